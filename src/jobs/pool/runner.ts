import { createHash } from 'node:crypto';
import type { Result } from '../../core/result.ts';
import { FacePool, type FacePoolOptions, type RunOptions, type RunOutcome } from './facePool.ts';
import { DistributedFacePool, type DistributedOptions } from './distributedPool.ts';
import type { ModelInfo } from './messages.ts';
import type { FaceTask } from './prepareFace.ts';

// What an index build runs its images through: worker threads in this process (FacePool), or
// `lookalike worker` processes through the queue (DistributedFacePool, with --redis). Same results.

export interface FaceRunner {
  readonly info: ModelInfo;
  /** Worker threads, or worker processes. */
  readonly size: number;
  run(tasks: readonly FaceTask[], opts: RunOptions): Promise<RunOutcome>;
  close(): Promise<void>;
}

export async function startFaceRunner(opts: FacePoolOptions, distributed?: DistributedOptions): Promise<Result<FaceRunner>> {
  if (!distributed) return FacePool.start(opts);
  return DistributedFacePool.start(
    {
      model: opts.model,
      detector: opts.detector,
      ...(opts.descriptor ? { descriptor: opts.descriptor } : {}),
      ...(opts.precision ? { precision: opts.precision } : {}),
      prepare: opts.prepare, ...(opts.concurrency ? { concurrency: opts.concurrency } : {}) },
    distributed,
  );
}

/** A build's id on the queue: the same build (same inputs and options) gets the same id when run again. */
export function buildIdOf(what: unknown): string {
  return `b${createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16)}`;
}
