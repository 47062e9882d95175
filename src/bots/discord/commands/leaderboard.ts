import { InteractionContextType, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { leaderboardText } from '../../shared/format.ts';
import { MESSAGE_LIMIT, PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { discordMarkup } from '../markup.ts';
import { refuse } from '../respond.ts';
import { discordReplyText } from '../texts.ts';

// /leaderboard ranks the server's members by their best look-alike there, then the most matched
// celebrities. Same store and rules as Telegram: one row per member, hidden members left out.

const ROWS = 10;
const CELEBRITIES = 5;

export const data = new SlashCommandBuilder()
  .setName('leaderboard')
  .setDescription('Who in this server looks most like a celebrity')
  .setContexts(InteractionContextType.Guild);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  if (!interaction.inGuild()) {
    await refuse(interaction, discordReplyText('not_in_guild'));
    return;
  }
  const [entries, celebrities] = await Promise.all([
    deps.store.leaderboard(PLATFORM, interaction.guildId, { limit: ROWS }),
    deps.store.topCelebrities(PLATFORM, interaction.guildId, { limit: CELEBRITIES }),
  ]);
  const title = interaction.guild ? `Look-alike leaderboard of ${interaction.guild.name}` : 'Look-alike leaderboard';
  const content =
    entries.length === 0
      ? `${discordMarkup.bold(discordMarkup.escape(title))}\nNobody here is on it yet. Use /lookalike to start.`
      : leaderboardText(entries, celebrities, { markup: discordMarkup, maxLength: MESSAGE_LIMIT, title });
  await interaction.reply({ content, allowedMentions: { parse: [] } });
}
