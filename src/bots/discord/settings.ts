import { checkHttpUrl, requireEnv } from '../../config.ts';
import { ConfigError } from '../../core/errors.ts';
import { limitsFromEnv, type LimitsOptions } from '../shared/limits.ts';

// The Discord bot's settings, read from the environment once. Every error names the variable, never its value.

export interface DiscordSettings {
  token: string;
  /** DISCORD_API_URL: REST base without the version (default https://discord.com/api). */
  apiUrl?: string;
  /** DISCORD_CDN_URL: where avatars are fetched (default https://cdn.discordapp.com). */
  cdnUrl?: string;
  /** DISCORD_GUILD_ID: register the commands in this server only (instant, for development). */
  guildId?: string;
  /** DISCORD_SHARDS: run under discord.js's ShardingManager with this many shards ("auto": as Discord recommends). */
  shards?: number | 'auto';
  limits: Partial<LimitsOptions>;
}

const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const SNOWFLAKE = /^\d{17,20}$/;

export function discordSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): DiscordSettings {
  const token = requireEnv(env, 'DISCORD_BOT_TOKEN', 'the Discord bot needs the token from the Developer Portal (Bot → Reset Token)').replace(/^Bot\s+/i, '');
  if (!TOKEN.test(token)) throw new ConfigError('DISCORD_BOT_TOKEN does not look like a bot token (three dot-separated parts, from the Developer Portal)');
  const apiUrl = optionalUrl(env, 'DISCORD_API_URL');
  const cdnUrl = optionalUrl(env, 'DISCORD_CDN_URL');
  const guildId = env.DISCORD_GUILD_ID?.trim() || undefined;
  if (guildId !== undefined && !SNOWFLAKE.test(guildId)) throw new ConfigError('DISCORD_GUILD_ID must be a server id (a number of 17 to 20 digits; Developer Mode → Copy Server ID)');
  let shards: number | 'auto' | undefined;
  const rawShards = env.DISCORD_SHARDS?.trim().toLowerCase();
  if (rawShards) {
    shards = rawShards === 'auto' ? 'auto' : Number(rawShards);
    if (shards !== 'auto' && (!Number.isInteger(shards) || shards < 1)) throw new ConfigError('DISCORD_SHARDS must be "auto" or a whole number of at least 1');
  }
  return {
    token,
    ...(apiUrl ? { apiUrl } : {}),
    ...(cdnUrl ? { cdnUrl } : {}),
    ...(guildId ? { guildId } : {}),
    ...(shards !== undefined ? { shards } : {}),
    limits: limitsFromEnv(env),
  };
}

function optionalUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  checkHttpUrl(name, value);
  // discord.js appends /v10/...; a trailing slash would double it.
  return value.replace(/\/+$/, '');
}
