import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Device } from '../../config.ts';
import type { DetectorName } from '../../core/detect/detector.ts';
import type { Precision } from '../../core/models/embedder.ts';
import { ConfigError, IndexCorruptError, InferenceError, ModelLoadError } from '../../core/errors.ts';
import { fail, ok, type Result } from '../../core/result.ts';
// sharp (libvips) must be loaded by the main thread before any worker loads it: libvips keeps
// process-wide state that has to outlive the workers.
import { sharp } from '../../core/runtime/sharp.ts';
import { disableOrtTelemetry } from '../../core/runtime/ortEnv.ts';
import { logger } from '../../log.ts';
import type { FaceTaskResult, FromWorker, ModelInfo, ToWorker, WorkerInit } from './messages.ts';
import { addTimings, emptyTimings, type FaceTask, type PrepareOptions, type StageTimings } from './prepareFace.ts';

// A pool of worker threads, one per core, each with its own model session running on one thread:
// on a CPU the pipeline's stages (libvips, the WASM cascade, ORT) each use one core well, so one
// image per core beats every stage trying to use all cores at once. The main thread only hands out
// batches and takes results, in whatever order workers finish them.

const log = logger('face-pool');

export interface FacePoolOptions {
  model: string;
  detector: DetectorName;
  descriptor?: string;
  precision?: Precision;
  modelsDir: string;
  device: Device;
  /** Default: every core (os.availableParallelism()). */
  workers?: number;
  prepare: PrepareOptions;
  /** Images each worker prepares at once (default 2). */
  concurrency?: number;
}

export interface RunOptions {
  /** Images per batch; each batch is embedded in one model call (default 16). */
  batchSize?: number;
  /** Called once per finished batch, one call at a time, in the order batches finish. */
  onResults: (results: FaceTaskResult[], timings: StageTimings) => void | Promise<void>;
  /** Stops handing out batches; run() resolves with stopped: true without waiting for batches in flight. */
  signal?: AbortSignal;
}

export interface RunOutcome {
  stopped: boolean;
  /** Stage times summed over all workers. */
  timings: StageTimings;
}

/** The worker's file, beside this one: .ts when run from source (tsx), .js once built. */
const WORKER_URL = new URL(`./faceWorker${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

// Errors cross the thread boundary as plain data; the project's own classes are rebuilt so that
// callers can tell them apart as usual (the CLI, for one, answers a ModelLoadError with one line).
const ERROR_CLASSES: Record<string, new (message: string) => Error> = { ConfigError, IndexCorruptError, InferenceError, ModelLoadError };

function revive(fatal: { name: string; message: string; stack?: string }): Error {
  const Known = ERROR_CLASSES[fatal.name];
  const err = Known ? new Known(fatal.message) : Object.assign(new Error(`face worker failed: ${fatal.message}`), { name: fatal.name });
  if (fatal.stack) err.stack = fatal.stack;
  return err;
}

/**
 * Node 20 does not carry tsx's module hooks into worker threads, so from source (tests, benchmarks)
 * the worker registers tsx itself before it loads the worker module; the built .js needs nothing.
 */
function startWorker(init: WorkerInit, name: string): Worker {
  // A worker cannot change the process environment; the variable must be set before it starts.
  disableOrtTelemetry();
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, { workerData: init, name });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init, name });
}

/** How long a stopping worker may take to finish the batch it is running. */
const STOP_GRACE_MS = 30_000;

/** Batches queued on each worker: one running, one waiting. */
const IN_FLIGHT_PER_WORKER = 2;

interface PoolWorker {
  worker: Worker;
  inFlight: number;
}

export class FacePool {
  private closed = false;
  /** libvips threads per operation before the pool started (restored on close). */
  private vipsConcurrency = 0;
  private failure: Error | null = null;
  private onMessage: ((w: PoolWorker, message: FromWorker) => void) | null = null;
  private onFailure: ((err: Error) => void) | null = null;

  private constructor(
    private readonly workers: PoolWorker[],
    readonly info: ModelInfo,
  ) {
    for (const w of workers) {
      w.worker.on('message', (message: FromWorker) => this.onMessage?.(w, message));
      w.worker.on('error', (err) => this.fail(err));
      w.worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`face worker exited unexpectedly (code ${code})`));
      });
    }
  }

  /** Starts the workers and loads the model in each. An unknown model or descriptor comes back as a failure. */
  static async start(opts: FacePoolOptions): Promise<Result<FacePool>> {
    const count = Math.max(1, opts.workers ?? availableParallelism());
    const init: WorkerInit = {
      model: opts.model,
      detector: opts.detector,
      descriptor: opts.descriptor,
      precision: opts.precision,
      modelsDir: opts.modelsDir,
      device: opts.device,
      intraOpThreads: 1,
      prepare: opts.prepare,
      concurrency: opts.concurrency ?? 2,
    };
    const workers: PoolWorker[] = [];
    const detach: (() => void)[] = [];
    const starting: Promise<FromWorker>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = startWorker(init, `face-worker-${i}`);
      workers.push({ worker, inFlight: 0 });
      starting.push(
        new Promise((resolve, reject) => {
          const onExit = (code: number) => reject(new Error(`face worker exited during start (code ${code})`));
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', onExit);
          detach.push(() => {
            worker.off('message', resolve);
            worker.off('error', reject);
            worker.off('exit', onExit);
          });
        }),
      );
    }
    let first: FromWorker[];
    try {
      first = await Promise.all(starting);
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw err;
    }
    for (const off of detach) off();
    const problem = first.find((m) => m.type !== 'ready');
    if (problem) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      if (problem.type === 'failed') return fail(problem.failure.code, problem.failure.message);
      if (problem.type === 'fatal') throw revive(problem);
      throw new Error(`face worker sent ${problem.type} before it was ready`);
    }
    const info = (first[0] as Extract<FromWorker, { type: 'ready' }>).info;
    log.info({ workers: count, model: info.modelId, detector: info.detector }, 'face pool ready');
    const pool = new FacePool(workers, info);
    // Each worker keeps a core busy: a libvips operation spread over every core only adds hand-overs.
    pool.vipsConcurrency = sharp.concurrency();
    if (count > 1) sharp.concurrency(1);
    return ok(pool);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Prepares and embeds every task; results reach onResults batch by batch. One run at a time. */
  run(tasks: readonly FaceTask[], opts: RunOptions): Promise<RunOutcome> {
    if (this.closed) return Promise.reject(new Error('the face pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const batchSize = Math.max(1, opts.batchSize ?? 16);
    const timings = emptyTimings();
    let next = 0;
    let batchId = 0;
    let inFlight = 0;
    let stopped = false;
    let handling: Promise<void> = Promise.resolve();

    return new Promise<RunOutcome>((resolve, reject) => {
      const finish = (err?: Error) => {
        this.onMessage = null;
        this.onFailure = null;
        opts.signal?.removeEventListener('abort', abort);
        if (err) reject(err);
        else resolve({ stopped, timings });
      };
      const abort = () => {
        stopped = true;
        finish();
      };
      const dispatch = (w: PoolWorker) => {
        while (!stopped && w.inFlight < IN_FLIGHT_PER_WORKER && next < tasks.length) {
          const batch = tasks.slice(next, next + batchSize);
          next += batch.length;
          w.inFlight++;
          inFlight++;
          w.worker.postMessage({ type: 'batch', id: batchId++, tasks: batch } satisfies ToWorker);
        }
      };
      this.onFailure = (err) => finish(err);
      this.onMessage = (w, message) => {
        if (message.type === 'fatal') {
          finish(revive(message));
          return;
        }
        if (message.type !== 'batch') return;
        w.inFlight--;
        addTimings(timings, message.timings);
        // Results are handed over one batch at a time, in arrival order; the worker gets its next
        // batch at once so that it never waits on the main thread.
        dispatch(w);
        handling = handling.then(async () => {
          if (stopped) return;
          await opts.onResults(message.results, message.timings);
          inFlight--;
          if (inFlight === 0 && next >= tasks.length && !stopped) finish();
        });
        handling.catch((err: unknown) => {
          stopped = true;
          finish(err instanceof Error ? err : new Error(String(err)));
        });
      };
      if (opts.signal?.aborted) {
        abort();
        return;
      }
      opts.signal?.addEventListener('abort', abort, { once: true });
      if (tasks.length === 0) {
        finish();
        return;
      }
      for (const w of this.workers) dispatch(w);
    });
  }

  /**
   * Stops the workers: each skips its queued batches and exits after the one it is running (ending a
   * thread in the middle of an inference would crash the process). One that has not exited after
   * STOP_GRACE_MS, or that failed, is ended at once.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    sharp.concurrency(this.vipsConcurrency);
    await Promise.all(
      this.workers.map(async ({ worker }) => {
        if (this.failure) {
          await worker.terminate();
          return;
        }
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'stop' } satisfies ToWorker);
        const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.onFailure?.(err);
  }
}
