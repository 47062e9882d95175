import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { indexDir } from '../../core/engine.ts';
import { Gallery } from '../../core/gallery.ts';
import { ConfigError } from '../../core/errors.ts';
import { openStore } from '../../db/store.ts';
import type { Store } from '../../db/types.ts';
import { logger } from '../../log.ts';
import type { RunningDiscordBot } from '../../bots/discord/run.ts';
import { DEFAULT_LIMITS, limitsFromEnv, RequestLimits } from '../../bots/shared/limits.ts';
import { LocalRouter, type RequestRouter } from '../../bots/shared/router.ts';
import { exitSoon, openBotEngine } from '../../bots/shared/service.ts';
import { metricsPortFromEnv, startMetricsServer, type MetricsServer } from '../../metrics.ts';
import { queueSettingsFromEnv, type QueueSettings } from '../../queue/settings.ts';
import type { RunningTelegramBot } from '../../bots/telegram/run.ts';
import { dataDirOf } from '../options.ts';

// `lookalike bot telegram`, `lookalike bot discord`, and `lookalike bot`: every bot whose token is set,
// in this one process, sharing one engine, one store and one set of request limits.

const log = logger('bots');

// Each platform's client is imported when its bot runs: discord.js alone took 0.9 s to import on the
// bench machine, a third of the start-up budget of a Telegram-only bot (bench/startup.ts).
const telegram = () => import('../../bots/telegram/run.ts');
const discord = () => import('../../bots/discord/run.ts');

interface ServiceBase {
  dataDir: string;
  modelsDir: string;
  device: Config['device'];
  databaseUrl?: string;
  queue?: QueueSettings;
  metricsPort?: number;
}

export function registerBotCommand(program: Command, config: Config): void {
  program
    .command('bot [platform]')
    .description('run a chat bot until stopped (Ctrl-C): telegram, discord, or, with no argument, every bot whose token is set')
    .action(async (platform: string | undefined, _opts: unknown, command: Command) => {
      const base: ServiceBase = {
        dataDir: path.resolve(dataDirOf(command)),
        modelsDir: config.modelsDir,
        device: config.device,
        ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
        ...withDefined('queue', queueSettingsFromEnv()),
        ...withDefined('metricsPort', metricsPortFromEnv()),
      };
      // A bot that matches here reads its index while it imports its chat client and loads its models.
      if (!base.queue) Gallery.prefetch(indexDir(base.dataDir));
      switch (platform?.toLowerCase()) {
        case 'telegram': {
          const t = await telegram();
          return t.serveTelegram({ ...base, settings: t.telegramSettingsFromEnv() });
        }
        case 'discord': {
          const d = await discord();
          return d.serveDiscord({ ...base, settings: d.discordSettingsFromEnv() });
        }
        case undefined:
          return serveAllBots(base);
        default:
          throw new ConfigError(`unknown bot "${platform}": use telegram or discord, or no argument for every bot whose token is set`);
      }
    });
}

async function serveAllBots(base: ServiceBase, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const wanted = { telegram: Boolean(env.TELEGRAM_BOT_TOKEN?.trim()), discord: Boolean(env.DISCORD_BOT_TOKEN?.trim()) };
  if (!wanted.telegram && !wanted.discord) {
    throw new ConfigError('no bot token is set: set TELEGRAM_BOT_TOKEN (Telegram) and/or DISCORD_BOT_TOKEN (Discord)');
  }
  // Settings first: a bad variable stops the start before the engine is loaded.
  const t = wanted.telegram ? await telegram() : undefined;
  const d = wanted.discord ? await discord() : undefined;
  const telegramSettings = t?.telegramSettingsFromEnv(env);
  const discordSettings = d?.discordSettingsFromEnv(env);

  // A front end of the queue (LOOKALIKE_REDIS_URL) loads no engine: the workers match.
  const limitOptions = limitsFromEnv(env);
  const engine = await openBotEngine(base, limitOptions);
  let store: Store | undefined;
  let router: RequestRouter | undefined;
  let metricsServer: MetricsServer | undefined;
  const bots: (RunningTelegramBot | RunningDiscordBot)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string) =>
    (stopping ??= (async () => {
      await Promise.allSettled(bots.map((b) => b.stop(reason)));
      await router?.close();
      await metricsServer?.close();
      await store?.close();
      await engine.close();
    })());
  const onSignal = (signal: NodeJS.Signals) => void stopAll(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    store = await openStore({ dataDir: base.dataDir, ...(base.databaseUrl ? { databaseUrl: base.databaseUrl } : {}) });
    // One queue for both: a burst on one platform makes the other wait, not the machine overload.
    const limits = new RequestLimits(limitOptions);
    // BullMQ and ioredis load only for a front end of the queue.
    router = base.queue ? new (await import('../../bots/shared/queueRouter.ts')).QueueRouter(base.queue, { ...DEFAULT_LIMITS, ...limitOptions }, log) : new LocalRouter(limits, log);
    if (base.metricsPort !== undefined) metricsServer = await startMetricsServer(base.metricsPort, log);
    if (t && telegramSettings) bots.push(await t.runTelegramBot(telegramSettings, { engine, store, limits, router }));
    // With DISCORD_SHARDS, the shards run inside this process (one engine), not under a ShardingManager.
    if (d && discordSettings) {
      bots.push(await d.runDiscordBot(discordSettings, { engine, store, limits, router, ...(discordSettings.shards !== undefined ? { shardCount: discordSettings.shards } : {}) }));
    }
    log.info({ bots: Object.entries(wanted).filter(([, on]) => on).map(([name]) => name) }, 'bots running');
    // Until a signal, or until one bot stops for good (that takes the others down too).
    await Promise.race(bots.map((b) => b.stopped));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll('stopped');
    exitSoon(log);
  }
}

/** `{ key: value }` when the value is defined, else nothing (for spreading into exact optional properties). */
function withDefined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
