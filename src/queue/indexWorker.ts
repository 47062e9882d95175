import type { Job } from 'bullmq';
import type { Device } from '../config.ts';
import { FacePool } from '../jobs/pool/facePool.ts';
import { poolKey, toWire, type IndexJobData, type IndexJobResult } from '../jobs/pool/indexJobs.ts';
import type { FaceTaskResult } from '../jobs/pool/messages.ts';
import { addTimings, emptyTimings } from '../jobs/pool/prepareFace.ts';
import type { Logger } from '../log.ts';
import { startQueueWorker, workerName } from './queueWorker.ts';
import { INDEX_QUEUE, type QueueSettings } from './settings.ts';

// The worker side of distributed index builds: one job at a time, its images spread over this
// process's face threads (one model session each). The pool stays loaded between jobs of a build and
// is let go when the worker has had no index job for a minute.

const IDLE_MS = 60_000;

export interface IndexWorkerOptions {
  modelsDir: string;
  device: Device;
  /** Face threads (one per core this worker may use). */
  threads: number;
  log: Logger;
}

export interface IndexWorker {
  readonly name: string;
  close(): Promise<void>;
}

export function startIndexWorker(settings: QueueSettings, opts: IndexWorkerOptions): IndexWorker {
  const name = workerName();
  let pool: { key: string; pool: FacePool } | undefined;
  let idle: NodeJS.Timeout | undefined;

  const poolFor = async (data: IndexJobData): Promise<FacePool | IndexJobResult> => {
    const key = poolKey(data.pool, opts.device);
    if (pool?.key === key) return pool.pool;
    await pool?.pool.close();
    pool = undefined;
    const started = await FacePool.start({
      model: data.pool.model,
      detector: data.pool.detector,
      ...(data.pool.descriptor ? { descriptor: data.pool.descriptor } : {}),
      ...(data.pool.precision ? { precision: data.pool.precision } : {}),
      modelsDir: opts.modelsDir,
      device: opts.device,
      workers: opts.threads,
      prepare: data.pool.prepare,
      ...(data.pool.concurrency ? { concurrency: data.pool.concurrency } : {}),
    });
    if (!started.ok) return { ok: false, failure: started.error };
    pool = { key, pool: started.value };
    return started.value;
  };

  const processJob = async (job: Job<IndexJobData>): Promise<IndexJobResult> => {
    clearTimeout(idle);
    try {
      const p = await poolFor(job.data);
      if (!(p instanceof FacePool)) return p;
      if (job.data.kind === 'info') return { ok: true, info: p.info, results: [], timings: emptyTimings() };
      const tasks = job.data.tasks;
      const results: FaceTaskResult[] = [];
      const timings = emptyTimings();
      // Batches small enough that every thread has work, two each.
      const batchSize = Math.max(1, Math.min(16, Math.ceil(tasks.length / (2 * p.size))));
      await p.run(tasks, {
        batchSize,
        onResults: (batch, t) => {
          results.push(...batch);
          addTimings(timings, t);
        },
      });
      const order = new Map(tasks.map((t, i) => [t.key, i]));
      results.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
      return { ok: true, info: p.info, results: results.map(toWire), timings };
    } finally {
      idle = setTimeout(() => {
        const idlePool = pool;
        pool = undefined;
        void idlePool?.pool.close();
      }, IDLE_MS);
      idle.unref();
    }
  };

  const worker = startQueueWorker<IndexJobData, IndexJobResult>(INDEX_QUEUE, processJob, settings, { name, concurrency: 1, log: opts.log, idField: 'jobId' });

  return {
    name,
    async close() {
      await worker.close();
      clearTimeout(idle);
      await pool?.pool.close();
      pool = undefined;
    },
  };
}
