import type { ChatInputCommandInteraction, MessageContextMenuCommandInteraction, RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import type { DiscordBotDeps } from '../deps.ts';
import * as findLookalike from './findLookalike.ts';
import * as forget from './forget.ts';
import * as hide from './hide.ts';
import * as leaderboard from './leaderboard.ts';
import * as lookalike from './lookalike.ts';
import * as morph from './morph.ts';
import * as show from './show.ts';

// Every command the bot registers: one module per command, each exporting { data, execute }.

export interface Command<I> {
  data: { name: string; toJSON(): RESTPostAPIApplicationCommandsJSONBody };
  execute(interaction: I, deps: DiscordBotDeps): Promise<void>;
}

export const slashCommands: readonly Command<ChatInputCommandInteraction>[] = [lookalike, morph, leaderboard, hide, show, forget];
export const messageCommands: readonly Command<MessageContextMenuCommandInteraction>[] = [findLookalike];

/** What is sent to Discord's bulk-overwrite endpoint. */
export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  return [...slashCommands, ...messageCommands].map((c) => c.data.toJSON());
}
