import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { localized, tFor } from '../language.ts';
import { replyPrivately } from '../respond.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

// /forget deletes every stored result of the user, in every server, with their name, hidden flag and settings.

export const data = localized(new SlashCommandBuilder().setName('forget'), 'discordCommands.forget')
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const { deletedResults } = await deps.store.forgetUser(PLATFORM, interaction.user.id);
  const t = tFor(interaction);
  await replyPrivately(interaction, deletedResults === 0 ? t('privacy.forgot_nothing') : t('privacy.forgot', { count: deletedResults }));
}
