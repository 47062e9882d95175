import type { Queue } from 'bullmq';
import type { QueueState } from '../metrics.ts';

/** The match queue as the metrics show it: jobs waiting and active, the oldest waiting job's age, workers connected. */
export async function queueState(queue: Queue): Promise<QueueState> {
  const [counts, oldest, workers] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active'),
    // asc: the job that has waited longest first.
    queue.getJobs(['waiting'], 0, 0, true),
    queue.getWorkersCount(),
  ]);
  const first = oldest[0];
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    oldestAgeSeconds: first ? Math.max(0, (Date.now() - first.timestamp) / 1000) : 0,
    workers,
  };
}
