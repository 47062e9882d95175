import { Queue } from 'bullmq';
import type { Device } from '../config.ts';
import { intraOpThreadsFor, tryOpenEngine } from '../core/engine.ts';
import type { LookalikeEngine } from '../core/engineTypes.ts';
import { openStore } from '../db/store.ts';
import type { Store } from '../db/types.ts';
import { logger } from '../log.ts';
import { metrics, startMetricsServer, type MetricsServer } from '../metrics.ts';
import { DEFAULT_LIMITS, type LimitsOptions } from '../bots/shared/limits.ts';
import { observeEngine } from '../bots/shared/observe.ts';
import { boundedStep, DISCONNECT_TIMEOUT_MS } from '../bots/shared/service.ts';
import { telegramBotDeps } from '../bots/telegram/bot.ts';
import { PLATFORM as TELEGRAM } from '../bots/telegram/deps.ts';
import type { TelegramSettings } from '../bots/telegram/run.ts';
import { telegramJobHandler } from '../bots/telegram/worker.ts';
import { discordBotDeps } from '../bots/discord/bot.ts';
import { PLATFORM as DISCORD } from '../bots/discord/deps.ts';
import { discordJobHandler } from '../bots/discord/worker.ts';
import { startIndexWorker, type IndexWorker } from './indexWorker.ts';
import { startMatchWorker, type MatchJobHandler, type MatchWorker } from './matchWorker.ts';
import { queueState } from './queueState.ts';
import { connectionOptions, KEY_PREFIX, MATCH_QUEUE, recoveryBoundMs, type QueueSettings } from './settings.ts';

// `lookalike worker`: one engine per process, any number of processes on any number of machines. It
// takes match jobs (when its data directory holds an index) and index-build jobs (when it can read the
// dataset's paths), and answers Telegram and Discord users itself.

const log = logger('worker');

export interface WorkerProcessOptions {
  queue: QueueSettings;
  dataDir: string;
  modelsDir: string;
  device: Device;
  databaseUrl?: string;
  /** Match jobs at once on this process's engine; also the face threads of index-build jobs. */
  concurrency: number;
  limits: Partial<LimitsOptions>;
  /** Set when this worker answers Telegram requests (TELEGRAM_BOT_TOKEN on the worker). */
  telegram?: Pick<TelegramSettings, 'token' | 'apiRoot' | 'maxFileBytes'>;
  /** DISCORD_API_URL: where interaction replies go (default Discord's). */
  discordApiUrl?: string;
  metricsPort?: number;
}

export interface RunningWorker {
  readonly name: string;
  readonly serves: ('match' | 'index')[];
  readonly metricsPort?: number;
  /** Stops taking jobs, finishes those it holds (each within the request timeout), and closes everything. */
  stop(reason?: string): Promise<void>;
}

export async function startWorkerProcess(opts: WorkerProcessOptions): Promise<RunningWorker> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  let engine: LookalikeEngine | undefined;
  let store: Store | undefined;
  let match: MatchWorker | undefined;
  let index: IndexWorker | undefined;
  let metricsServer: MetricsServer | undefined;
  let stateQueue: Queue | undefined;
  const closeAll = async () => {
    await Promise.all([match?.close(), index?.close()]);
    metrics.setQueueSource(undefined);
    await stateQueue?.close();
    await metricsServer?.close();
    await store?.close();
    await engine?.close();
  };
  try {
    const threads = intraOpThreadsFor(opts.concurrency);
    const opened = await tryOpenEngine({ dataDir: opts.dataDir, modelsDir: opts.modelsDir, device: opts.device, intraOpThreads: threads, imageThreads: threads });
    if (opened.ok) {
      engine = observeEngine(opened.value);
      store = await openStore({ dataDir: opts.dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
      const handlers: Record<string, MatchJobHandler> = {};
      if (opts.telegram) {
        const deps = telegramBotDeps({ engine, store, limits, maxFileBytes: opts.telegram.maxFileBytes, ...(opts.telegram.apiRoot ? { apiRoot: opts.telegram.apiRoot } : {}), log: logger('telegram') });
        handlers[TELEGRAM] = telegramJobHandler(deps, { token: opts.telegram.token, ...(opts.telegram.apiRoot ? { apiRoot: opts.telegram.apiRoot } : {}) });
      }
      handlers[DISCORD] = discordJobHandler(discordBotDeps({ engine, store, limits, log: logger('discord') }), { ...(opts.discordApiUrl ? { apiUrl: opts.discordApiUrl } : {}) });
      match = startMatchWorker(opts.queue, { handlers, concurrency: opts.concurrency, timeoutMs: limits.timeoutMs, log });
    } else {
      // A machine that only builds indexes has no index yet.
      log.warn({ failure: opened.error }, 'no index to match against in this data directory: taking index-build jobs only');
    }
    index = startIndexWorker(opts.queue, { modelsDir: opts.modelsDir, device: opts.device, threads: opts.concurrency, log });
    stateQueue = new Queue(MATCH_QUEUE, { connection: connectionOptions(opts.queue), prefix: KEY_PREFIX });
    stateQueue.on('error', (err) => log.warn({ err }, 'queue connection error'));
    metrics.setQueueSource(() => queueState(stateQueue!));
    if (opts.metricsPort !== undefined) metricsServer = await startMetricsServer(opts.metricsPort, log);
  } catch (err) {
    await closeAll().catch(() => {});
    throw err;
  }
  const serves: RunningWorker['serves'] = match ? ['match', 'index'] : ['index'];
  const name = match?.name ?? index.name;
  log.info(
    { worker: name, serves, concurrency: opts.concurrency, platforms: match ? (opts.telegram ? [TELEGRAM, DISCORD] : [DISCORD]) : [], recoveryBoundMs: recoveryBoundMs(opts.queue) },
    'worker ready',
  );
  let stopping: Promise<void> | undefined;
  return {
    name,
    serves,
    ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
    stop(reason = 'stop') {
      stopping ??= (async () => {
        log.info({ reason }, 'worker stopping: finishing the jobs it holds');
        await boundedStep(closeAll(), limits.timeoutMs + 2 * DISCONNECT_TIMEOUT_MS, 'finish the jobs held', log);
      })();
      return stopping;
    },
  };
}
