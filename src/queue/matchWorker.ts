import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { deadline, type Admitted, type TaskOutcome } from '../bots/shared/limits.ts';
import { observeAdmitted } from '../bots/shared/observe.ts';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import type { MatchJobData } from './matchJobs.ts';
import { ReplyLedger } from './replyLedger.ts';
import { MATCH_QUEUE, type QueueSettings } from './settings.ts';
import { startQueueWorker, workerName } from './queueWorker.ts';

// The worker side of match jobs: BullMQ hands a job to one of `concurrency` slots; the platform's
// handler downloads the photo, matches it on this process's engine and answers the user itself, its
// sends going through the reply ledger. A job that waited past the request's timeout is answered as
// timed out, as in one process.

export interface MatchJobContext {
  /** The request's id (the BullMQ job id). */
  requestId: string;
  /** The request's admission on this worker: its task runs with the time left of the request's timeout. */
  admitted: Admitted;
  /** Sends one answer through the ledger: not at all when the request was answered already. */
  sendOnce<T>(send: () => Promise<T>): Promise<{ sent: true; value: T } | { sent: false }>;
}

export type MatchJobHandler = (data: MatchJobData, ctx: MatchJobContext) => Promise<void>;

export interface MatchWorkerOptions {
  /** By platform. A job of a platform this worker cannot answer (no token) fails, to be retried elsewhere. */
  handlers: Record<string, MatchJobHandler>;
  concurrency: number;
  /** From admission to answer, queue included (LOOKALIKE_TIMEOUT_SECONDS). */
  timeoutMs: number;
  log: Logger;
}

export interface MatchWorker {
  readonly worker: Worker;
  readonly name: string;
  /** Stops taking jobs and waits for the running ones (BullMQ's graceful close). */
  close(): Promise<void>;
}

export function startMatchWorker(settings: QueueSettings, opts: MatchWorkerOptions): MatchWorker {
  const name = workerName();
  const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (err) => opts.log.warn({ err }, 'redis connection error'));
  const ledger = new ReplyLedger(redis);

  const processJob = async (job: Job<MatchJobData>): Promise<void> => {
    const requestId = job.id!;
    const data = job.data;
    if (await ledger.isAnswered(requestId)) {
      // A job run again after its worker died having answered: done already.
      opts.log.info({ requestId, attempt: job.attemptsStarted }, 'request already answered; not answering again');
      metrics.job(MATCH_QUEUE, 'duplicate');
      return;
    }
    const handler = opts.handlers[data.platform];
    if (!handler) throw new Error(`this worker cannot answer ${data.platform} requests (its token is not set)`);
    const deadline = new TaskDeadline(data.admittedAt + opts.timeoutMs);
    const admittedAt = performance.now() - Math.max(0, Date.now() - data.admittedAt);
    const admitted = observeAdmitted(deadline.admitted(), { platform: data.platform, log: opts.log, admittedAt, context: { requestId } });
    try {
      await handler(data, { requestId, admitted, sendOnce: (send) => ledger.sendOnce(requestId, name, send) });
    } finally {
      // A timed-out task keeps its slot until it stops, so no more than `concurrency` matches run.
      await deadline.settled();
    }
  };

  const worker = startQueueWorker<MatchJobData, void>(MATCH_QUEUE, processJob, settings, { name, concurrency: opts.concurrency, log: opts.log, idField: 'requestId' });

  return {
    worker,
    name,
    async close() {
      await worker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** One task with an absolute deadline: the outcome is 'timeout' at the deadline, but settled() waits for the task itself. */
class TaskDeadline {
  private work: Promise<unknown> = Promise.resolve();
  constructor(private readonly deadline: number) {}

  admitted(): Admitted {
    let used = false;
    return {
      queued: false,
      run: async <T>(task: (signal: AbortSignal) => Promise<T>): Promise<TaskOutcome<T>> => {
        if (used) throw new Error('Admitted.run called twice');
        used = true;
        const remaining = this.deadline - Date.now();
        if (remaining <= 0) return { status: 'timeout' };
        const { signal, timedOut, clear } = deadline(remaining);
        const work = (async () => task(signal))();
        this.work = work.catch(() => {});
        try {
          const first = await Promise.race([work.then((value) => ({ value })), timedOut]);
          return first === 'timeout' ? { status: 'timeout' } : { status: 'done', value: first.value };
        } finally {
          clear();
        }
      },
    };
  }

  settled(): Promise<unknown> {
    return this.work;
  }
}
