import type { Device } from '../../config.ts';
import { intraOpThreadsFor, openEngine } from '../../core/engine.ts';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import { openStore } from '../../db/store.ts';
import type { Store } from '../../db/types.ts';
import type { Logger } from '../../log.ts';
import { startMetricsServer, type MetricsServer } from '../../metrics.ts';
import type { QueueSettings } from '../../queue/settings.ts';
import { DEFAULT_LIMITS, type LimitsOptions } from './limits.ts';
import { observeEngine } from './observe.ts';
import type { QueueRouter } from './queueRouter.ts';
import { WORKERS_ENGINE } from './workersEngine.ts';
import type { RequestRouter } from './router.ts';

// A bot as a process runs it: the engine on the data directory's index, the store, the bot on both;
// shut down in the reverse order so that requests already accepted are answered first.

export interface ServiceOptions {
  dataDir: string;
  modelsDir: string;
  device: Device;
  /** DATABASE_URL: empty for SQLite in the data directory. */
  databaseUrl?: string;
  /** LOOKALIKE_REDIS_URL: a front end that enqueues for `lookalike worker`s and loads no engine. */
  queue?: QueueSettings;
  /** The limits, for the queue's admission (in one process the bot builds its own from them). */
  limits?: Partial<LimitsOptions>;
  /** LOOKALIKE_METRICS_PORT: serve /metrics there. */
  metricsPort?: number;
}

/** How long closing a platform connection may take when the platform does not answer. */
export const DISCONNECT_TIMEOUT_MS = 5_000;
/** After a clean shutdown, how long a handle left open (a socket a library keeps retrying) may keep the process alive. */
export const EXIT_GRACE_MS = 3_000;

/**
 * Waits for `step` at most `ms`; past that, logs what is being given up on and goes on. Shutdown steps
 * wait on the platform (a last reply, a gateway's close handshake) and the platform may be gone.
 */
export async function boundedStep(step: Promise<unknown>, ms: number, what: string, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    const first = await Promise.race([step.then(() => 'done' as const), gaveUp]);
    if (first === 'timeout') log.warn({ step: what, waitedMs: ms }, 'shutdown step did not finish in time; going on without it');
  } catch (err) {
    log.warn({ step: what, err }, 'shutdown step failed; going on');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The process is done: if a library still holds a socket or a timer open (discord.js retrying a gateway
 * that is gone), end it after a short grace instead of running on with nothing to do.
 */
export function exitSoon(log: Logger): void {
  setTimeout(() => {
    log.warn({ graceMs: EXIT_GRACE_MS }, 'a connection was still open after shutdown; exiting anyway');
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

export interface RunningBot {
  /** Settles when the bot stops by itself (polling or the gateway gave up) or was stopped. */
  readonly stopped: Promise<void>;
  /** Answers what it accepted and disconnects, within stopBudgetMs whatever the platform does. */
  stop(reason?: string): Promise<void>;
  readonly stopBudgetMs: number;
}

export interface BotService<R extends RunningBot> {
  readonly running: R;
  /** Stops the bot, answers what it accepted, then closes the store and the engine. Idempotent. */
  shutdown(reason?: string): Promise<void>;
}

/**
 * The engine a bot process matches with: none for a front end of the queue (the workers match), else
 * the index and models, their threads shared out among the requests the limits let run at once.
 */
export async function openBotEngine(opts: Pick<ServiceOptions, 'dataDir' | 'modelsDir' | 'device' | 'queue'>, limits: Partial<LimitsOptions> = {}): Promise<LookalikeEngine> {
  if (opts.queue) return WORKERS_ENGINE;
  const concurrent = limits.concurrency ?? DEFAULT_LIMITS.concurrency;
  const threads = intraOpThreadsFor(concurrent);
  return observeEngine(await openEngine({ dataDir: opts.dataDir, modelsDir: opts.modelsDir, device: opts.device, intraOpThreads: threads, imageThreads: threads }));
}

export async function startBotService<R extends RunningBot>(
  opts: ServiceOptions,
  start: (deps: { engine: LookalikeEngine; store: Store; router?: RequestRouter }) => Promise<R>,
  log: Logger,
): Promise<BotService<R>> {
  const engine = await openBotEngine(opts, opts.limits);
  let store: Store | undefined;
  let router: QueueRouter | undefined;
  let metricsServer: MetricsServer | undefined;
  const closeAll = async () => {
    await router?.close().catch((err: unknown) => log.warn({ err }, 'could not close the queue'));
    await metricsServer?.close();
    await store?.close();
    await engine.close();
  };
  try {
    store = await openStore({ dataDir: opts.dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
    // BullMQ and ioredis load only for a front end of the queue.
    if (opts.queue) router = new (await import('./queueRouter.ts')).QueueRouter(opts.queue, { ...DEFAULT_LIMITS, ...opts.limits }, log);
    if (opts.metricsPort !== undefined) metricsServer = await startMetricsServer(opts.metricsPort, log);
    const running = await start({ engine, store, ...(router ? { router } : {}) });
    let closing: Promise<void> | undefined;
    return {
      running,
      shutdown(reason = 'shutdown') {
        closing ??= (async () => {
          log.info({ reason }, 'bot stopping');
          try {
            // stop() bounds its own steps; this is the backstop.
            await boundedStep(running.stop(reason), running.stopBudgetMs + DISCONNECT_TIMEOUT_MS, 'stop the bot', log);
          } finally {
            await closeAll();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll().catch(() => {});
    throw err;
  }
}

/** The longest a bot's stop() may take: answering what it accepted (each request has its timeout), then disconnecting. */
export function stopBudgetMs(requestTimeoutMs: number = DEFAULT_LIMITS.timeoutMs): number {
  return requestTimeoutMs + 2 * DISCONNECT_TIMEOUT_MS;
}

/**
 * Runs until SIGINT or SIGTERM, or until the bot stops by itself, then shuts down cleanly and lets the
 * process end (see exitSoon). What the CLI commands call.
 */
export async function serveUntilSignal(service: BotService<RunningBot>, log: Logger): Promise<void> {
  // A failed shutdown surfaces below, where `stopped` settles; here it must not be an unhandled rejection.
  const onSignal = (signal: NodeJS.Signals) => void service.shutdown(signal).catch(() => {});
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await service.running.stopped;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await service.shutdown('stopped');
    exitSoon(log);
  }
}
