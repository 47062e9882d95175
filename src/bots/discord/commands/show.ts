import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { localized, tFor } from '../language.ts';
import { replyPrivately } from '../respond.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

export const data = localized(new SlashCommandBuilder().setName('show'), 'discordCommands.show')
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  await deps.store.setHidden(PLATFORM, interaction.user.id, false);
  await replyPrivately(interaction, tFor(interaction)('privacy.shown_servers'));
}
