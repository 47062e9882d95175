import type { Device } from '../../config.ts';
import { openEngine } from '../../core/engine.ts';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import { openStore } from '../../db/store.ts';
import type { Store } from '../../db/types.ts';
import type { Logger } from '../../log.ts';

// A bot as a process runs it: the engine on the data directory's index, the store, the bot on both;
// shut down in the reverse order so that requests already accepted are answered first.

export interface ServiceOptions {
  dataDir: string;
  modelsDir: string;
  device: Device;
  /** DATABASE_URL: empty for SQLite in the data directory. */
  databaseUrl?: string;
}

export interface RunningBot {
  /** Settles when the bot stops by itself (polling or the gateway gave up) or was stopped. */
  readonly stopped: Promise<void>;
  stop(reason?: string): Promise<void>;
}

export interface BotService<R extends RunningBot> {
  readonly running: R;
  /** Stops the bot, answers what it accepted, then closes the store and the engine. Idempotent. */
  shutdown(reason?: string): Promise<void>;
}

export async function startBotService<R extends RunningBot>(
  opts: ServiceOptions,
  start: (deps: { engine: LookalikeEngine; store: Store }) => Promise<R>,
  log: Logger,
): Promise<BotService<R>> {
  const engine = await openEngine({ dataDir: opts.dataDir, modelsDir: opts.modelsDir, device: opts.device });
  let store: Store | undefined;
  try {
    store = await openStore({ dataDir: opts.dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
    const running = await start({ engine, store });
    const opened = store;
    let closing: Promise<void> | undefined;
    return {
      running,
      shutdown(reason = 'shutdown') {
        closing ??= (async () => {
          log.info({ reason }, 'bot stopping');
          try {
            await running.stop(reason);
          } finally {
            await opened.close();
            await engine.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await store?.close().catch(() => {});
    await engine.close().catch(() => {});
    throw err;
  }
}

/** Runs until SIGINT or SIGTERM, or until the bot stops by itself, then shuts down cleanly. */
export async function serveUntilSignal(service: BotService<RunningBot>): Promise<void> {
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
  }
}
