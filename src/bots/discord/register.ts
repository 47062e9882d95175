import { DiscordAPIError, type Client } from 'discord.js';
import { ConfigError } from '../../core/errors.ts';
import type { Logger } from '../../log.ts';
import { commandDefinitions } from './commands/index.ts';

// Commands are registered at every start with one bulk overwrite, so the list Discord shows always
// matches this version of the bot. Global commands reach every server; a guild's own (DISCORD_GUILD_ID)
// appear at once, which is what development wants.

export async function registerCommands(client: Client<true>, guildId: string | undefined, log: Logger): Promise<void> {
  const definitions = commandDefinitions();
  try {
    if (guildId) await client.application.commands.set(definitions, guildId);
    else await client.application.commands.set(definitions);
  } catch (err) {
    if (guildId && err instanceof DiscordAPIError && (err.status === 403 || err.status === 404)) {
      throw new ConfigError('DISCORD_GUILD_ID names a server the bot is not in (invite it there first, with the applications.commands scope)');
    }
    throw err;
  }
  log.info({ commands: definitions.map((d) => d.name), scope: guildId ? 'guild' : 'global', guildId }, 'commands registered');
}
