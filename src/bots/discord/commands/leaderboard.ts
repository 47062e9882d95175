import { InteractionContextType, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { leaderboardText } from '../../shared/format.ts';
import { MESSAGE_LIMIT, PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { discordMarkup } from '../markup.ts';
import { refuse } from '../respond.ts';
import { localized, tFor } from '../language.ts';
import { discordReplyText } from '../texts.ts';

// /leaderboard ranks the server's members by their best look-alike there, then the most matched
// celebrities. Same store and rules as Telegram: one row per member, hidden members left out.

const ROWS = 10;
const CELEBRITIES = 5;

export const data = localized(new SlashCommandBuilder().setName('leaderboard'), 'discordCommands.leaderboard')
  .setContexts(InteractionContextType.Guild);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const t = tFor(interaction);
  if (!interaction.inGuild()) {
    await refuse(interaction, discordReplyText(t, 'not_in_guild'));
    return;
  }
  const [entries, celebrities] = await Promise.all([
    deps.store.leaderboard(PLATFORM, interaction.guildId, { limit: ROWS }),
    deps.store.topCelebrities(PLATFORM, interaction.guildId, { limit: CELEBRITIES }),
  ]);
  const title = interaction.guild ? t('leaderboard.title_of', { name: interaction.guild.name }) : t('leaderboard.title');
  const content = leaderboardText(entries, celebrities, { markup: discordMarkup, t, maxLength: MESSAGE_LIMIT, title, empty: t('leaderboard.empty_discord') });
  await interaction.reply({ content, allowedMentions: { parse: [] } });
}
