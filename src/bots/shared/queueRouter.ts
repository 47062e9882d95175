import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../../log.ts';
import { metrics, recordRefusal } from '../../metrics.ts';
import { jobName } from '../../queue/matchJobs.ts';
import { connectionOptions, KEY_PREFIX, MATCH_QUEUE, type QueueSettings } from '../../queue/settings.ts';
import { queueState } from '../../queue/queueState.ts';
import type { LimitsOptions } from './limits.ts';
import type { RequestRouter, RouteRequest, Routed } from './router.ts';

// Front ends with a queue: the rate limit per user and the queue length are kept in Redis, so they hold
// across every front end (several Telegram webhook servers, Discord shards); an admitted request becomes
// a BullMQ job that a `lookalike worker` takes.

/** How often a job is retried after its processor failed (a lost Redis connection, say); a dead worker is the stalled check's. */
const JOB_ATTEMPTS = 2;

export class QueueRouter implements RequestRouter {
  readonly mode = 'queue';
  private readonly queue: Queue;
  private readonly redis: Redis;
  private readonly perUser: RateLimiterRedis;

  constructor(
    settings: QueueSettings,
    private readonly limits: Readonly<LimitsOptions>,
    private readonly log: Logger,
  ) {
    this.queue = new Queue(MATCH_QUEUE, { connection: connectionOptions(settings), prefix: KEY_PREFIX });
    this.queue.on('error', (err) => log.warn({ err }, 'queue connection error'));
    this.redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 2 });
    this.redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
    // A fixed window per user from their first request (rate-limiter-flexible's Redis limiter).
    this.perUser = new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: `${KEY_PREFIX}:rate`,
      points: limits.perUserRequests,
      duration: Math.max(1, Math.round(limits.perUserWindowMs / 1000)),
    });
    metrics.setQueueSource(() => queueState(this.queue));
  }

  async admit(req: RouteRequest): Promise<Routed> {
    try {
      await this.perUser.consume(req.userKey);
    } catch (rejected) {
      if (!(rejected instanceof RateLimiterRes)) throw rejected;
      const retryAfterSec = Math.max(1, Math.ceil(rejected.msBeforeNext / 1000));
      recordRefusal(this.log, req.platform, 'rate_limited', req.context);
      return { status: 'rate_limited', retryAfterSec };
    }
    // Waiting jobs across all front ends; one more than LOOKALIKE_QUEUE_SIZE is turned away. Front ends
    // admitting at the same instant may each see the last free place: the queue can run over by that many.
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    if (waiting >= this.limits.queueSize) {
      // A busy answer does not use up the user's requests, as in one process.
      await this.perUser.reward(req.userKey, 1).catch(() => {});
      recordRefusal(this.log, req.platform, 'busy', req.context);
      return { status: 'busy' };
    }
    const job = await req.remote();
    if (job) {
      const t = performance.now();
      await this.queue.add(jobName(job.data), job.data, {
        jobId: job.id,
        attempts: JOB_ATTEMPTS,
        backoff: { type: 'fixed', delay: 1000 },
        // Nothing about a photo outlives its job: finished jobs are deleted at once (the ledger keeps only "answered").
        removeOnComplete: true,
        removeOnFail: true,
      });
      metrics.stage(req.platform, 'enqueue', (performance.now() - t) / 1000);
    }
    return { status: 'ok', done: Promise.resolve() };
  }

  async close(): Promise<void> {
    metrics.setQueueSource(undefined);
    await this.queue.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
