import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { replyPrivately } from '../respond.ts';

// /hide takes the user off every leaderboard (their results stay, unseen); /show puts them back.

export const data = new SlashCommandBuilder().setName('hide').setDescription('Leave the look-alike leaderboards');

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  await deps.store.setHidden(PLATFORM, interaction.user.id, true);
  await replyPrivately(interaction, 'Done: you no longer appear on any leaderboard. /show brings you back, /forget deletes your results.');
}
