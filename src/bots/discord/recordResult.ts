import type { CommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { displayNameOf } from './respond.ts';

// Server results feed that server's leaderboard; direct messages have none, so nothing is kept there.
// The result belongs to whoever asked, as on Telegram: only people who use the bot are ranked.
export async function recordResult(interaction: CommandInteraction, deps: DiscordBotDeps, celebrity: string, similarity: number): Promise<void> {
  if (!interaction.inGuild() || interaction.user.bot) return;
  try {
    await deps.store.recordResult({
      platform: PLATFORM,
      chatId: interaction.guildId,
      userId: interaction.user.id,
      displayName: displayNameOf(interaction),
      celebrity,
      similarity: Math.min(100, Math.max(0, similarity)),
    });
  } catch (err) {
    // The user already has their answer; a lost leaderboard entry is the operator's to fix.
    deps.log.error({ err, guildId: interaction.guildId, userId: interaction.user.id }, 'could not record the result');
  }
}
