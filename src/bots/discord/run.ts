import { once } from 'node:events';
import { DiscordjsErrorCodes, Events, type Client, type CloseEvent } from 'discord.js';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Store } from '../../db/types.ts';
import { logger } from '../../log.ts';
import type { RequestLimits } from '../shared/limits.ts';
import { boundedStep, DISCONNECT_TIMEOUT_MS, serveUntilSignal, startBotService, stopBudgetMs, type BotService, type ServiceOptions } from '../shared/service.ts';
import { attachDiscordBot, type DiscordBot } from './bot.ts';
import { createDiscordClient } from './client.ts';
import { registerCommands } from './register.ts';
import type { DiscordSettings } from './settings.ts';
import { serveShardingManager } from './sharding.ts';

export { discordSettingsFromEnv, type DiscordSettings } from './settings.ts';

// Starting the Discord bot the way an operator runs it: settings from the environment, one gateway
// connection (or a ShardingManager with DISCORD_SHARDS), commands registered once the client is ready.

const log = logger('discord-run');

export interface RunningDiscordBot {
  readonly bot: DiscordBot;
  readonly client: Client<true>;
  /** Settles when the bot stops: resolves after stop(), rejects if the gateway closes for good (bad token, refused intents). */
  readonly stopped: Promise<void>;
  /**
   * Turns new interactions away, waits until every accepted photo is answered, then disconnects; each
   * step bounded, so that it ends within stopBudgetMs whatever Discord does. Engine and store stay open.
   */
  stop(reason?: string): Promise<void>;
  readonly stopBudgetMs: number;
}

export interface DiscordRunDeps {
  engine: LookalikeEngine;
  store: Store;
  limits?: RequestLimits;
  /** Several shards in this one process (what `lookalike bot` does with DISCORD_SHARDS). */
  shardCount?: number | 'auto';
}

// Close codes after which discord.js gives up, as the operator should read them.
function gatewayRefusal(event: CloseEvent, shardId: number): Error {
  switch (event.code) {
    case 4004:
      return new ConfigError('DISCORD_BOT_TOKEN was refused by the Discord gateway (authentication failed): check the token in the Developer Portal');
    case 4013:
    case 4014:
      return new ConfigError('Discord refused the gateway intents the bot asked for (only Guilds is needed; check the bot settings in the Developer Portal)');
    case 4010:
    case 4011:
      return new ConfigError(`Discord refused shard ${shardId}: set DISCORD_SHARDS (the bot is in too many servers for one connection) or fix its value`);
    default:
      return new Error(`the Discord gateway closed shard ${shardId} for good (code ${event.code})`);
  }
}

/** Logs in and resolves once the client is ready and the commands are registered. */
export async function runDiscordBot(settings: DiscordSettings, deps: DiscordRunDeps): Promise<RunningDiscordBot> {
  const client = createDiscordClient({
    ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}),
    ...(settings.cdnUrl ? { cdnUrl: settings.cdnUrl } : {}),
    ...(deps.shardCount !== undefined ? { shardCount: deps.shardCount } : {}),
  });
  const bot = attachDiscordBot(client, { engine: deps.engine, store: deps.store, limits: deps.limits ?? settings.limits });

  let rejectStopped!: (err: Error) => void;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve, reject) => {
    resolveStopped = resolve;
    rejectStopped = reject;
  });
  stopped.catch(() => {});
  const fatal = new Promise<never>((_, reject) => {
    client.on(Events.ShardDisconnect, (event, shardId) => {
      const err = gatewayRefusal(event, shardId);
      log.error({ code: event.code, shardId }, err.message);
      reject(err);
      rejectStopped(err);
    });
  });
  fatal.catch(() => {});

  try {
    const ready = once(client, Events.ClientReady);
    await Promise.race([client.login(settings.token), fatal]);
    await Promise.race([ready, fatal]);
  } catch (err) {
    await client.destroy().catch(() => {});
    if ((err as { code?: string }).code === DiscordjsErrorCodes.TokenInvalid) {
      throw new ConfigError('DISCORD_BOT_TOKEN was refused by the Discord API (401 Unauthorized): check the token in the Developer Portal');
    }
    throw err;
  }
  const readyClient = client as Client<true>;

  // Under a ShardingManager every shard process starts here; one registration is enough.
  if (!readyClient.shard || readyClient.shard.ids.includes(0)) {
    try {
      await registerCommands(readyClient, settings.guildId, log);
    } catch (err) {
      if (err instanceof ConfigError) {
        await client.destroy().catch(() => {});
        throw err;
      }
      // Commands registered by an earlier start still work; the operator gets the error.
      log.error({ err }, 'could not register the commands');
    }
  }
  log.info({ user: readyClient.user.tag, guilds: readyClient.guilds.cache.size, shards: readyClient.ws.shards.map((s) => s.id) }, 'discord bot ready');

  let stopping: Promise<void> | undefined;
  const requestTimeoutMs = bot.deps.limits.options.timeoutMs;
  return {
    bot,
    client: readyClient,
    stopped,
    stopBudgetMs: stopBudgetMs(requestTimeoutMs),
    stop(reason = 'stop') {
      stopping ??= (async () => {
        log.info({ reason }, 'discord bot stopping');
        bot.stopAccepting();
        // Each accepted request ends within its timeout; its last reply may then wait on a Discord that is gone.
        await boundedStep(bot.drain(), requestTimeoutMs + DISCONNECT_TIMEOUT_MS, 'answer accepted requests', log);
        // With the gateway gone, discord.js's destroy() waits for a connection that never comes back.
        await boundedStep(client.destroy(), DISCONNECT_TIMEOUT_MS, 'disconnect from the gateway', log);
        resolveStopped();
      })();
      return stopping;
    },
  };
}

export interface DiscordServiceOptions extends ServiceOptions {
  settings: DiscordSettings;
}

export type DiscordService = BotService<RunningDiscordBot>;

/** The engine on the data directory's index, the store, the bot: one process, one gateway connection (or one shard). */
export function startDiscordService(opts: DiscordServiceOptions): Promise<DiscordService> {
  return startBotService(opts, (deps) => runDiscordBot(opts.settings, deps), log);
}

/** Runs until SIGINT or SIGTERM (or until the gateway refuses the bot), then shuts down cleanly. */
export async function serveDiscordService(opts: DiscordServiceOptions): Promise<void> {
  await serveUntilSignal(await startDiscordService(opts), log);
}

/**
 * What `lookalike bot discord` calls: one process, or with DISCORD_SHARDS a ShardingManager whose shard
 * processes each run serveDiscordService (see shard.ts).
 */
export async function serveDiscord(opts: DiscordServiceOptions): Promise<void> {
  if (opts.settings.shards !== undefined) return serveShardingManager(opts);
  return serveDiscordService(opts);
}
