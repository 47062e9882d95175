import { Job, Queue } from 'bullmq';
import { fail, ok, type Result } from '../../core/result.ts';
import { logger, type Logger } from '../../log.ts';
import { connectionOptions, INDEX_QUEUE, KEY_PREFIX, type QueueSettings } from '../../queue/settings.ts';
import type { RunOptions, RunOutcome } from './facePool.ts';
import { fromWire, type IndexJobData, type IndexJobResult, type PoolSpec } from './indexJobs.ts';
import type { FaceTaskResult, ModelInfo } from './messages.ts';
import { addTimings, emptyTimings, type FaceTask } from './prepareFace.ts';

// The face pool of an index build spread over `lookalike worker` processes: the coordinator puts rows
// (or files) on the index queue in jobs, a window of them at a time, collects each job's descriptors and
// thumbnails, hands them to the build (which checkpoints them), and only then deletes the job. A worker
// that dies loses its job to BullMQ's stalled check, which gives it to another; a coordinator that dies
// finds its build's jobs again by the build id when run again, and takes the results of those that
// finished meanwhile. Each row is handed to the build at most once per run.

export interface DistributedOptions {
  queue: QueueSettings;
  /** Stable across runs of the same build (the coordinator resumes by it). */
  buildId: string;
  /** Rows per job (default 32). */
  jobRows?: number;
  /** Jobs handed out and not yet collected (default 16): what workers can run ahead of the coordinator. */
  window?: number;
  log?: Logger;
}

const POLL_MS = 150;
const WAITING_NOTICE_MS = 30_000;
const JOB_OPTIONS = { attempts: 3, backoff: { type: 'fixed' as const, delay: 2000 }, removeOnComplete: false, removeOnFail: false };
const ALL_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'] as const;

export class DistributedFacePool {
  private closed = false;

  private constructor(
    private readonly queue: Queue<IndexJobData, IndexJobResult>,
    private readonly spec: PoolSpec,
    private readonly opts: DistributedOptions,
    private readonly log: Logger,
    readonly info: ModelInfo,
    /** Workers connected when the build started. */
    readonly size: number,
  ) {}

  /** Asks a worker for the model's details (and so checks that workers can load it). */
  static async start(spec: PoolSpec, opts: DistributedOptions): Promise<Result<DistributedFacePool>> {
    const log = opts.log ?? logger('distributed-build');
    const queue = new Queue<IndexJobData, IndexJobResult>(INDEX_QUEUE, { connection: connectionOptions(opts.queue), prefix: KEY_PREFIX });
    queue.on('error', (err) => log.warn({ err }, 'queue connection error'));
    try {
      const id = `${opts.buildId}-info`;
      await queue.add('info', { buildId: opts.buildId, pool: spec, kind: 'info' }, { ...JOB_OPTIONS, jobId: id });
      const answer = await waitForResult(queue, id, log);
      await (await Job.fromId(queue, id))?.remove().catch(() => {});
      if (!answer.ok) {
        await queue.close();
        return fail(answer.failure.code, answer.failure.message);
      }
      const size = await queue.getWorkersCount();
      log.info({ buildId: opts.buildId, workers: size, model: answer.info.modelId }, 'distributed build: workers ready');
      return ok(new DistributedFacePool(queue, spec, opts, log, answer.info, size));
    } catch (err) {
      await queue.close();
      throw err;
    }
  }

  async run(tasks: readonly FaceTask[], runOpts: RunOptions): Promise<RunOutcome> {
    if (this.closed) throw new Error('the distributed face pool is closed');
    const { buildId } = this.opts;
    const jobRows = Math.max(1, this.opts.jobRows ?? 32);
    const window = Math.max(1, this.opts.window ?? 16);
    const timings = emptyTimings();
    const pending = new Map(tasks.map((t) => [t.key, t]));
    /** Job id -> the keys it will deliver. */
    const outstanding = new Map<string, number[]>();
    const covered = new Set<number>();

    // A coordinator run again: the build's jobs still in Redis (waiting, running, finished) are its own.
    for (const job of await this.queue.getJobs([...ALL_STATES])) {
      if (!job?.id?.startsWith(`${buildId}-f`) || job.data.kind !== 'faces') continue;
      const keys = job.data.tasks.map((t) => t.key).filter((k) => pending.has(k) && !covered.has(k));
      if (keys.length === 0) {
        await job.remove().catch(() => {});
        continue;
      }
      for (const k of keys) covered.add(k);
      outstanding.set(job.id, keys);
    }
    if (outstanding.size > 0) this.log.info({ buildId, jobs: outstanding.size }, 'distributed build: taking over the jobs of an earlier run');
    const fresh = tasks.filter((t) => !covered.has(t.key));
    let next = 0;

    const handOut = async () => {
      while (outstanding.size < window && next < fresh.length) {
        const chunk = fresh.slice(next, next + jobRows);
        next += chunk.length;
        const id = `${buildId}-f${chunk[0]!.key}-${chunk.length}`;
        await this.queue.add('faces', { buildId, pool: this.spec, kind: 'faces', tasks: chunk }, { ...JOB_OPTIONS, jobId: id });
        outstanding.set(id, chunk.map((t) => t.key));
      }
    };

    let lastProgress = Date.now();
    while (pending.size > 0) {
      if (runOpts.signal?.aborted) return { stopped: true, timings };
      await handOut();
      let progressed = false;
      for (const [id, keys] of [...outstanding]) {
        const job = await Job.fromId<IndexJobData, IndexJobResult>(this.queue, id);
        if (!job) {
          // Removed behind the coordinator's back: hand its rows out again.
          this.log.warn({ jobId: id }, 'distributed build: a job disappeared; handing its rows out again');
          outstanding.delete(id);
          fresh.push(...keys.filter((k) => pending.has(k)).map((k) => pending.get(k)!));
          continue;
        }
        if (job.finishedOn && job.returnvalue) {
          const value = job.returnvalue;
          if (!value.ok) throw new Error(`a worker could not load the build's model: ${value.failure.message}`);
          const results: FaceTaskResult[] = [];
          for (const w of value.results) {
            if (!pending.has(w.key)) continue;
            pending.delete(w.key);
            results.push(fromWire(w));
          }
          addTimings(timings, value.timings);
          if (results.length > 0) await runOpts.onResults(results, value.timings);
          // The results are the build's now (checkpointed, for IMDB-WIKI): the job can go.
          await job.remove().catch(() => {});
          outstanding.delete(id);
          progressed = true;
          if (runOpts.signal?.aborted) return { stopped: true, timings };
        } else if (job.failedReason && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          this.log.warn({ jobId: id, reason: job.failedReason }, 'distributed build: a job failed on every attempt; trying it again');
          await job.retry('failed').catch(() => {});
        }
      }
      if (progressed) lastProgress = Date.now();
      else if (Date.now() - lastProgress > WAITING_NOTICE_MS) {
        lastProgress = Date.now();
        this.log.warn({ buildId, jobs: outstanding.size, workers: await this.queue.getWorkersCount() }, 'distributed build: no job finished for 30 s (are workers running? `lookalike worker`)');
      }
      if (!progressed) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return { stopped: false, timings };
  }

  /** Leaves unfinished jobs in Redis (a run again takes them over) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
  }
}

async function waitForResult(queue: Queue<IndexJobData, IndexJobResult>, id: string, log: Logger): Promise<IndexJobResult> {
  let noticeAt = Date.now() + WAITING_NOTICE_MS;
  for (;;) {
    const job = await Job.fromId<IndexJobData, IndexJobResult>(queue, id);
    if (!job) throw new Error(`the build's job ${id} disappeared from the queue`);
    if (job.finishedOn && job.returnvalue) return job.returnvalue;
    if (job.failedReason && job.attemptsMade >= (job.opts.attempts ?? 1)) throw new Error(`the workers failed to start the build's model: ${job.failedReason}`);
    if (Date.now() > noticeAt) {
      noticeAt = Date.now() + WAITING_NOTICE_MS;
      log.warn({ workers: await queue.getWorkersCount() }, 'distributed build: waiting for a worker to take the build (start `lookalike worker` where the dataset path can be read)');
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
