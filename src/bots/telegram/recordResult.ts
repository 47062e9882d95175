import type { User } from 'telegraf/types';
import { reportInternalError } from '../shared/replies.ts';
import { PLATFORM, type TelegramBotDeps } from './deps.ts';
import { displayNameOf } from './respond.ts';

// Group results feed that group's leaderboard. Private chats have no leaderboard, so nothing is kept.
// The result belongs to whoever asked: the person using the bot, not whoever posted the photo or video.
export async function recordResult(
  deps: TelegramBotDeps,
  req: { chat: { id: number; type: string }; from: User },
  celebrity: string,
  similarity: number,
): Promise<void> {
  if (req.chat.type !== 'group' && req.chat.type !== 'supergroup') return;
  if (req.from.is_bot) return;
  try {
    await deps.store.recordResult({
      platform: PLATFORM,
      chatId: String(req.chat.id),
      userId: String(req.from.id),
      displayName: displayNameOf(req.from),
      celebrity,
      similarity: Math.min(100, Math.max(0, similarity)),
    });
  } catch (err) {
    // The user already has their answer; a lost leaderboard entry is the operator's to fix.
    reportInternalError(deps.log, err, { chatId: req.chat.id, userId: req.from.id, what: 'recordResult' });
  }
}
