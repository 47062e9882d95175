import { loadConfig } from '../../config.ts';
import { ConfigError } from '../../core/errors.ts';
import { logger } from '../../log.ts';
import { metricsPortFromEnv } from '../../metrics.ts';
import { queueSettingsFromEnv } from '../../queue/settings.ts';
import { discordSettingsFromEnv, serveDiscordService } from './run.ts';

// One shard process under the ShardingManager (sharding.ts). discord.js reads SHARDS and SHARD_COUNT
// from the environment the manager sets; everything else comes from the same variables as the parent.

const log = logger('discord-shard');

function dataDirArg(argv: string[], fallback: string): string {
  const i = argv.indexOf('--data');
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

try {
  const config = loadConfig();
  const queue = queueSettingsFromEnv();
  // Each shard process serves its metrics on the base port plus its first shard id.
  const basePort = metricsPortFromEnv();
  const shardId = Number((process.env.SHARDS ?? '0').split(',')[0]) || 0;
  await serveDiscordService({
    dataDir: dataDirArg(process.argv.slice(2), config.dataDir),
    modelsDir: config.modelsDir,
    device: config.device,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    ...(queue ? { queue } : {}),
    ...(basePort !== undefined ? { metricsPort: basePort === 0 ? 0 : basePort + shardId } : {}),
    settings: discordSettingsFromEnv(),
  });
} catch (err) {
  if (err instanceof ConfigError) log.error(err.message);
  else log.error({ err }, 'shard failed');
  process.exitCode = err instanceof ConfigError ? 2 : 70;
} finally {
  // The IPC channel to the ShardingManager keeps a process alive; the shard is done, so let it go.
  if (process.connected) process.disconnect();
}
