import { fileURLToPath } from 'node:url';
import { REST, Routes, ShardingManager, type RESTGetAPIGatewayBotResult, type Shard } from 'discord.js';
import { ConfigError } from '../../core/errors.ts';
import { openStore } from '../../db/store.ts';
import { logger } from '../../log.ts';
import { DISCORD_API_URL } from './client.ts';
import type { DiscordServiceOptions } from './run.ts';
import type { DiscordSettings } from './settings.ts';
import { DISCONNECT_TIMEOUT_MS, EXIT_GRACE_MS, stopBudgetMs } from '../shared/service.ts';
import { NODE_FLAGS } from '../../nodeFlags.ts';

// DISCORD_SHARDS: discord.js's ShardingManager runs each shard in its own process (shard.ts), each with
// its own engine and a connection to the same store. This process only supervises them.

const log = logger('discord-shards');

/** How long one shard may take to load the engine and connect before the start counts as failed. */
const SHARD_READY_TIMEOUT_MS = 180_000;

/** The shard process entry: shard.ts under tsx (tests, development), shard.js once built. */
function shardEntry(): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  return {
    file: fileURLToPath(new URL(fromSource ? './shard.ts' : './shard.js', import.meta.url)),
    execArgv: [...NODE_FLAGS, ...(fromSource ? ['--import', 'tsx'] : [])],
  };
}

/** discord.js's own "auto" asks discord.com directly; this asks DISCORD_API_URL. */
async function recommendedShards(settings: DiscordSettings): Promise<number> {
  const rest = new REST({ api: settings.apiUrl ?? DISCORD_API_URL }).setToken(settings.token);
  try {
    const info = (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
    return Math.max(1, info.shards);
  } catch (err) {
    if ((err as { status?: number }).status === 401) throw new ConfigError('DISCORD_BOT_TOKEN was refused by the Discord API (401 Unauthorized): check the token in the Developer Portal');
    throw err;
  }
}

export async function serveShardingManager(opts: DiscordServiceOptions): Promise<void> {
  const { settings } = opts;
  // Migrations run here, once, before several processes open the same database.
  await (await openStore({ dataDir: opts.dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) })).close();
  const totalShards = settings.shards === 'auto' || settings.shards === undefined ? await recommendedShards(settings) : settings.shards;
  const entry = shardEntry();
  const manager = new ShardingManager(entry.file, {
    token: settings.token,
    totalShards,
    mode: 'process',
    respawn: true,
    shardArgs: ['--data', opts.dataDir],
    execArgv: entry.execArgv,
  });
  manager.on('shardCreate', (shard: Shard) => {
    log.info({ shard: shard.id, of: totalShards }, 'shard process started');
    shard.on('death', () => log.warn({ shard: shard.id }, 'shard process exited'));
  });

  let stopRequested: (signal: string) => void = () => {};
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => stopRequested(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    try {
      await Promise.race([manager.spawn({ amount: totalShards, timeout: SHARD_READY_TIMEOUT_MS }), stopSignal]);
    } catch (err) {
      throw new Error(`a Discord shard failed to start (its log is above): ${(err as Error).message ?? String(err)}`, { cause: err });
    }
    log.info({ shards: totalShards }, 'all shards started');
    const reason = await stopSignal;
    log.info({ reason }, 'stopping the shards');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopShards(manager);
  }
}

/**
 * Each shard process gets SIGTERM, answers what it accepted and exits; this waits for all of them, and
 * kills one that is still there after its stop budget (and the grace to exit) has passed.
 */
async function stopShards(manager: ShardingManager): Promise<void> {
  manager.respawn = false;
  const deadlineMs = stopBudgetMs() + DISCONNECT_TIMEOUT_MS + EXIT_GRACE_MS;
  await Promise.all(
    [...manager.shards.values()].map(
      (shard) =>
        new Promise<void>((resolve) => {
          const child = shard.process;
          if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            log.warn({ shard: shard.id }, 'shard process did not stop in time; killing it');
            child.kill('SIGKILL');
          }, deadlineMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
