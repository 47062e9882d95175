import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { PLATFORM, type DiscordBotDeps } from '../deps.ts';
import { replyPrivately } from '../respond.ts';

// /forget deletes every stored result of the user, in every server, with their name and hidden flag.

export const data = new SlashCommandBuilder().setName('forget').setDescription('Delete everything this bot stored about you');

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const { deletedResults } = await deps.store.forgetUser(PLATFORM, interaction.user.id);
  const what = deletedResults === 0 ? 'I had no results stored about you' : `I deleted your ${deletedResults === 1 ? 'result' : `${deletedResults} results`}`;
  await replyPrivately(interaction, `Done: ${what}, and nothing else about you is kept. Photos are never stored.`);
}
