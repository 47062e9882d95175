import { Client, GatewayIntentBits } from 'discord.js';

// The discord.js client with only what the bot needs. Slash commands and context menus arrive as
// interactions, which the Guilds intent covers (it also caches server names for leaderboard titles);
// no message-content or member intents, so the bot needs no privileged-intent approval.

export const DISCORD_API_URL = 'https://discord.com/api';
export const DISCORD_CDN_URL = 'https://cdn.discordapp.com';

export interface DiscordClientOptions {
  /** REST base URL without the version (Discord's: https://discord.com/api). The gateway URL comes from its /gateway/bot. */
  apiUrl?: string;
  /** CDN base for avatars (Discord's: https://cdn.discordapp.com). */
  cdnUrl?: string;
  /** Shards this one process runs (internal sharding); by default discord.js's own choice, or the ShardingManager's. */
  shardCount?: number | 'auto';
}

export function createDiscordClient(opts: DiscordClientOptions = {}): Client {
  const shards =
    opts.shardCount === 'auto'
      ? { shards: 'auto' as const }
      : opts.shardCount
        ? { shards: Array.from({ length: opts.shardCount }, (_, i) => i), shardCount: opts.shardCount }
        : {};
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: opts.apiUrl ?? DISCORD_API_URL, cdn: opts.cdnUrl ?? DISCORD_CDN_URL },
    // Display names and celebrity names are echoed back: they must never ping anyone.
    allowedMentions: { parse: [] },
    ...shards,
  });
}
