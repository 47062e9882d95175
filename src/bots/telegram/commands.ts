import type { BotCommand } from 'telegraf/types';
import { DEFAULT_LANGUAGE, translator, type Language } from '../shared/i18n.ts';

// The commands the app's menu lists, in each catalogue language (set per language_code at start-up).

const COMMAND_NAMES = ['lookalike', 'morph', 'settings', 'leaderboard', 'hide', 'show', 'forget', 'help'] as const;

/** The command list in one language, as the app's command menu shows it. */
export function telegramCommands(language: Language = DEFAULT_LANGUAGE): BotCommand[] {
  const t = translator(language);
  return COMMAND_NAMES.map((command) => ({ command, description: t(`commands.${command}`) }));
}

/** The English list: the default for users whose app language has no list of its own. */
export const TELEGRAM_COMMANDS: BotCommand[] = telegramCommands();

