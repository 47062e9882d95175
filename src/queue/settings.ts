import { ConfigError } from '../core/errors.ts';

// Running at scale: with LOOKALIKE_REDIS_URL set, the bots are front ends that admit requests and put
// them on a BullMQ queue in Redis, and `lookalike worker` processes (any number, on any machine) run
// the engine. Without it nothing changes: every bot matches in its own process.

export interface QueueSettings {
  /** redis:// or rediss:// URL; the error names the variable, never the value (it may hold a password). */
  redisUrl: string;
  /**
   * How long a job's lock lives without renewal (the worker renews it at half this). A worker that
   * dies mid-job has its job taken by another within lockMs + stalledIntervalMs.
   */
  lockMs: number;
  /** How often workers look for jobs whose lock has expired. */
  stalledIntervalMs: number;
}

/** Default lock: long enough that no stage of a match blocks the event loop for it, short enough to recover fast. */
export const DEFAULT_LOCK_MS = 10_000;

/** Worst case from a worker's death to its job being handed to another: the lock expires, then the next check finds it. */
export function recoveryBoundMs(s: Pick<QueueSettings, 'lockMs' | 'stalledIntervalMs'>): number {
  return s.lockMs + s.stalledIntervalMs;
}

export function checkRedisUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a URL (expected redis://host:port)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError(`${name} must be a redis:// or rediss:// URL`);
  return value;
}

/** The queue settings, or undefined when LOOKALIKE_REDIS_URL is not set (one process, as before). */
export function queueSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, redisUrl?: string): QueueSettings | undefined {
  const raw = redisUrl ?? env.LOOKALIKE_REDIS_URL?.trim();
  if (!raw) return undefined;
  const url = checkRedisUrl(redisUrl ? '--redis' : 'LOOKALIKE_REDIS_URL', raw);
  let lockMs = DEFAULT_LOCK_MS;
  const lock = env.LOOKALIKE_JOB_LOCK_SECONDS?.trim();
  if (lock) {
    const seconds = Number(lock);
    if (!(seconds >= 1 && seconds <= 600)) throw new ConfigError('LOOKALIKE_JOB_LOCK_SECONDS must be a number of seconds from 1 to 600');
    lockMs = Math.round(seconds * 1000);
  }
  return { redisUrl: url, lockMs, stalledIntervalMs: Math.round(lockMs / 2) };
}

/** Options for BullMQ's connections: workers block on Redis, so commands must never give up on retries. */
export function connectionOptions(s: Pick<QueueSettings, 'redisUrl'>): { url: string; maxRetriesPerRequest: null } {
  return { url: s.redisUrl, maxRetriesPerRequest: null };
}

/** Every key this project puts in Redis starts with this. */
export const KEY_PREFIX = 'lookalike';
export const MATCH_QUEUE = 'match';
export const INDEX_QUEUE = 'index';
