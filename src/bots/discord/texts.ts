import type { Translate } from '../shared/i18n.ts';
import { replyText, type ReplyCode, type ReplyDetails } from '../shared/replies.ts';
import { DISCORD_FILE_LIMIT_BYTES } from './deps.ts';

// Every refusal starts with the same prefix, so users (and tests) tell them from answers at a glance.
// The wording is the shared one except where Discord works differently from Telegram.

export const ERROR_PREFIX = '⚠️ ';

/** Refusals only Discord has. */
export type DiscordRefusal = 'no_avatar' | 'no_image_in_message' | 'not_in_guild' | 'unknown_command' | 'restarting';

export function discordReplyText(t: Translate, code: ReplyCode | DiscordRefusal, details: ReplyDetails & { who?: string } = {}): string {
  switch (code) {
    case 'no_photo':
    case 'no_image_in_message':
    case 'download_failed':
    case 'not_in_guild':
    case 'unknown_command':
    case 'restarting':
      return t(`discord.${code}`);
    case 'no_avatar':
      return details.who === undefined ? t('discord.no_avatar_you') : t('discord.no_avatar_member', { who: details.who });
    case 'file_too_large':
      return t('discord.file_too_large', { mb: Math.round((details.maxFileBytes ?? DISCORD_FILE_LIMIT_BYTES) / (1024 * 1024)) });
    default:
      return replyText(t, code, details);
  }
}

export function errorMessage(text: string): string {
  return `${ERROR_PREFIX}${text}`;
}
