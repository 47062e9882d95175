import { replyText, type ReplyCode, type ReplyDetails } from '../shared/replies.ts';
import { DISCORD_FILE_LIMIT_BYTES } from './deps.ts';

// Every refusal starts with the same prefix, so users (and tests) tell them from answers at a glance.
// The wording is the shared one except where Discord works differently from Telegram.

export const ERROR_PREFIX = '⚠️ ';

/** Refusals only Discord has. */
export type DiscordRefusal = 'no_avatar' | 'no_image_in_message' | 'not_in_guild' | 'unknown_command' | 'restarting';

export function discordReplyText(code: ReplyCode | DiscordRefusal, details: ReplyDetails & { who?: string } = {}): string {
  switch (code) {
    case 'no_photo':
      return 'Attach a photo with `/lookalike image:`, pick a member with `/lookalike user:`, or use Apps → Find look-alike on a message with a photo.';
    case 'no_image_in_message':
      return "That message has no picture. Use Find look-alike on a message with a photo attached.";
    case 'no_avatar':
      return `${details.who === 'You' ? 'You have' : `${details.who ?? 'That member'} has`} no profile picture, so there is no face to match. Attach a photo with \`/lookalike image:\` instead.`;
    case 'file_too_large': {
      const mb = Math.round((details.maxFileBytes ?? DISCORD_FILE_LIMIT_BYTES) / (1024 * 1024));
      return `That file is over ${mb} MB, more than I can take. Send a smaller picture.`;
    }
    case 'download_failed':
      return "I couldn't download that picture from Discord. Please try again.";
    case 'not_in_guild':
      return 'Leaderboards live in servers: use this command in a server where people use /lookalike.';
    case 'unknown_command':
      return "I don't know that command (yet). Try /lookalike.";
    case 'restarting':
      return "I'm restarting. Please try again in a minute.";
    default:
      return replyText(code, details);
  }
}

export function errorMessage(text: string): string {
  return `${ERROR_PREFIX}${text}`;
}
