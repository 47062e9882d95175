import { escapeMarkdown } from 'discord.js';
import type { Markup } from '../shared/format.ts';

// Discord's Markdown for the shared caption and leaderboard texts. Names come from users and from the
// gallery, so every one is escaped: "*_Kate_*" must not turn italic, nor "@everyone" ping (mentions are
// also switched off on the client).

export const discordMarkup: Markup = {
  bold: (text) => `**${text}**`,
  escape: (text) => escapeMarkdown(text),
  visible: (text) => text.replace(/\*\*/g, '').replace(/\\([\\*_~`|>#\-[\]()])/g, '$1'),
};
