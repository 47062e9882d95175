import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { replyPrivately } from '../respond.ts';

export const data = new SlashCommandBuilder().setName('show').setDescription('Rejoin the look-alike leaderboards');

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  await deps.store.setHidden(PLATFORM, interaction.user.id, false);
  await replyPrivately(interaction, "Done: you're back on the leaderboards of the servers where you used me.");
}
