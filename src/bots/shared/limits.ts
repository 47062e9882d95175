import { ConfigError } from '../../core/errors.ts';

// Admission control for look-alike requests, shared by the chat bots. Matching a photo costs real CPU,
// so a user gets a few requests per window, at most `concurrency` run at once, and at most `queueSize`
// wait behind them. Everything is decided the moment a request arrives, so a burst of messages is
// answered in arrival order and an overloaded bot says "busy" at once instead of going silent.

export interface LimitsOptions {
  /** Requests one user may start per window. */
  perUserRequests: number;
  perUserWindowMs: number;
  /** Requests running at once, across all users. */
  concurrency: number;
  /** Requests waiting for a slot; one more is turned away as busy. */
  queueSize: number;
  /** From arrival to answer, queue time included. */
  timeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<LimitsOptions> = Object.freeze({
  perUserRequests: 5,
  perUserWindowMs: 60_000,
  concurrency: 2,
  queueSize: 16,
  timeoutMs: 60_000,
});

/** Operators tune the limits with these variables; every bot in the process shares them. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): Partial<LimitsOptions> {
  const read = (name: string, key: keyof LimitsOptions, scale = 1, min = 1): Partial<LimitsOptions> => {
    const raw = env[name]?.trim();
    if (!raw) return {};
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be a whole number of at least ${min}`);
    return { [key]: value * scale };
  };
  return {
    ...read('LOOKALIKE_RATE_LIMIT_PER_MINUTE', 'perUserRequests'),
    ...read('LOOKALIKE_CONCURRENCY', 'concurrency'),
    ...read('LOOKALIKE_QUEUE_SIZE', 'queueSize', 1, 0),
    ...read('LOOKALIKE_TIMEOUT_SECONDS', 'timeoutMs', 1000),
  };
}

export type TaskOutcome<T> = { status: 'done'; value: T } | { status: 'timeout' };

/** What an admitted request does with its place: run its task once a slot is free. */
export interface Admitted {
  /** True when the request waits behind others. */
  readonly queued: boolean;
  /**
   * Runs the task once a slot is free. At most once per admission. The signal aborts at the timeout and
   * the outcome is then 'timeout' at once, but the slot stays taken until the task itself has settled:
   * a task that ignores the signal delays the next request rather than running beside it, so no more
   * than `concurrency` tasks ever run. A task's own error rejects the returned promise.
   */
  run<T>(task: (signal: AbortSignal) => Promise<T>): Promise<TaskOutcome<T>>;
}

export type Refusal = { status: 'rate_limited'; retryAfterSec: number } | { status: 'busy' };

/** `done` settles as the request's body does, after its place (if it ran no task) is given back. */
export type Admission = { status: 'ok'; queued: boolean; done: Promise<void> } | Refusal;

interface Waiting {
  start: () => void;
  started: boolean;
  cancelled: boolean;
}

export class RequestLimits {
  readonly options: Readonly<LimitsOptions>;
  private readonly now: () => number;
  private readonly recent = new Map<string, number[]>();
  private running = 0;
  private readonly queue: Waiting[] = [];
  private reserved = 0;
  private sweeps = 0;

  constructor(options: Partial<LimitsOptions> = {}, clock: () => number = Date.now) {
    this.options = Object.freeze({ ...DEFAULT_LIMITS, ...options });
    for (const [key, value] of Object.entries(this.options)) {
      if (!Number.isInteger(value) || value < (key === 'queueSize' ? 0 : 1)) throw new RangeError(`limits.${key} must be a positive integer, got ${value}`);
    }
    this.now = clock;
  }

  /** Tasks running now (timed-out ones included until they stop). */
  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.filter((w) => !w.cancelled).length;
  }

  /** Places held by admitted requests: running, queued, or admitted and not yet running. */
  get held(): number {
    return this.reserved;
  }

  /**
   * Decides now; never waits. When admitted, `body` starts at once with the admission and owns the place
   * it holds: the place is given back when the body's task ends, or when the body settles without running
   * one (a failed "Watching..." message, a deferral Discord refused, a throw). Nothing can leak it.
   */
  withAdmission(userKey: string, body: (admitted: Admitted) => Promise<void>): Admission {
    const now = this.now();
    const { perUserRequests, perUserWindowMs, concurrency, queueSize } = this.options;
    const times = (this.recent.get(userKey) ?? []).filter((t) => t > now - perUserWindowMs);
    if (times.length >= perUserRequests) {
      this.recent.set(userKey, times);
      return { status: 'rate_limited', retryAfterSec: Math.max(1, Math.ceil((times[0]! + perUserWindowMs - now) / 1000)) };
    }
    if (this.reserved >= concurrency + queueSize) return { status: 'busy' };
    this.reserved++;
    times.push(now);
    this.recent.set(userKey, times);
    this.sweep(now);
    const queued = this.reserved > concurrency;

    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.reserved--;
    };
    let used = false;
    const admitted: Admitted = {
      queued,
      run: <T>(task: (signal: AbortSignal) => Promise<T>) => {
        if (used) throw new Error('Admitted.run called twice');
        used = true;
        return this.runTask(task, now, release);
      },
    };
    let done: Promise<void>;
    try {
      done = body(admitted);
    } catch (err) {
      done = Promise.reject(err);
    }
    // Without a run the place is free as soon as the body is done; with one, when the task ends.
    const settled = done.finally(() => {
      if (!used) release();
    });
    return { status: 'ok', queued, done: settled };
  }

  private async runTask<T>(task: (signal: AbortSignal) => Promise<T>, arrivedAt: number, release: () => void): Promise<TaskOutcome<T>> {
    const { signal, timedOut, clear } = deadline(Math.max(0, arrivedAt + this.options.timeoutMs - this.now()));
    const waiting: Waiting = { start: () => {}, started: false, cancelled: false };
    const slot = new Promise<'slot'>((resolve) => {
      waiting.start = () => {
        waiting.started = true;
        resolve('slot');
      };
    });
    if (this.running < this.options.concurrency) {
      this.running++;
      waiting.start();
    } else {
      this.queue.push(waiting);
    }
    let work: Promise<T> | undefined;
    try {
      const first = await Promise.race([slot, timedOut]);
      if (first === 'timeout') {
        if (!waiting.started) waiting.cancelled = true;
        return { status: 'timeout' };
      }
      work = (async () => task(signal))();
      // A task that finishes after its timeout must not surface as an unhandled rejection.
      work.catch(() => {});
      const outcome = await Promise.race([work.then((value) => ({ value })), timedOut]);
      if (outcome === 'timeout') return { status: 'timeout' };
      return { status: 'done', value: outcome.value };
    } finally {
      clear();
      const freeSlot = () => {
        if (waiting.started) this.next();
        release();
      };
      // The slot is given back when the task has stopped, not when its answer stopped mattering.
      if (work) void work.then(freeSlot, freeSlot);
      else freeSlot();
    }
  }

  /** Hands a freed slot to the oldest waiting request, or counts it free. */
  private next(): void {
    this.running--;
    while (this.queue.length > 0) {
      const waiting = this.queue.shift()!;
      if (waiting.cancelled) continue;
      this.running++;
      waiting.start();
      return;
    }
  }

  // Users who stopped sending leave stale entries; drop them now and then so the map cannot grow forever.
  private sweep(now: number): void {
    if (++this.sweeps % 256 !== 0) return;
    const cutoff = now - this.options.perUserWindowMs;
    for (const [key, times] of this.recent) {
      if (times.every((t) => t <= cutoff)) this.recent.delete(key);
    }
  }
}

/** A request's time limit: after `ms` its signal is aborted and `timedOut` resolves; clear() when it ends first. */
export function deadline(ms: number): { signal: AbortSignal; timedOut: Promise<'timeout'>; clear: () => void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('request timed out'));
      resolve('timeout');
    }, ms);
  });
  return { signal: controller.signal, timedOut, clear: () => clearTimeout(timer) };
}
