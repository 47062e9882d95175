import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { localized, tFor } from '../language.ts';
import { replyPrivately } from '../respond.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

// /hide takes the user off every leaderboard (their results stay, unseen); /show puts them back.

export const data = localized(new SlashCommandBuilder().setName('hide'), 'discordCommands.hide')
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  await deps.store.setHidden(PLATFORM, interaction.user.id, true);
  await replyPrivately(interaction, tFor(interaction)('privacy.hidden'));
}
