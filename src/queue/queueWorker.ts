import { hostname } from 'node:os';
import { Worker, type Processor } from 'bullmq';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import { connectionOptions, KEY_PREFIX, type QueueSettings } from './settings.ts';

// A BullMQ worker on one of the project's queues: the shared lock and stall settings (what bounds the
// time a dead worker's job waits, README "Running at scale"), and its jobs' ends counted and logged.

/** The worker's name in Redis (BullMQ's processedBy): host and pid, so an operator can find the process. */
export function workerName(): string {
  return `${hostname()}-${process.pid}`;
}

export interface QueueWorkerOptions {
  name: string;
  concurrency: number;
  log: Logger;
  /** The log field a job's id goes in (a match job's id is its request's). */
  idField: 'jobId' | 'requestId';
}

export function startQueueWorker<Data, Result>(queue: string, processJob: Processor<Data, Result>, settings: QueueSettings, opts: QueueWorkerOptions): Worker<Data, Result> {
  const worker = new Worker<Data, Result>(queue, processJob, {
    connection: connectionOptions(settings),
    prefix: KEY_PREFIX,
    name: opts.name,
    concurrency: opts.concurrency,
    lockDuration: settings.lockMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: 2,
  });
  worker.on('completed', () => metrics.job(queue, 'completed'));
  worker.on('failed', (job, err) => {
    metrics.job(queue, 'failed');
    opts.log.error({ err, [opts.idField]: job?.id, attempts: job?.attemptsMade }, `${queue} job failed`);
  });
  worker.on('stalled', (jobId) => {
    metrics.job(queue, 'stalled');
    opts.log.warn({ [opts.idField]: jobId }, `${queue} job stalled (its worker stopped); handed to another`);
  });
  worker.on('error', (err) => opts.log.warn({ err }, `${queue} worker error`));
  return worker;
}
