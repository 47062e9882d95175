import type { Telegram } from 'telegraf';
import { recordRefusal } from '../../metrics.ts';
import type { Translate } from '../shared/i18n.ts';
import { replyText, type ReplyCode } from '../shared/replies.ts';
import type { RouteRequest } from '../shared/router.ts';
import { PLATFORM, type TelegramBotDeps } from './deps.ts';
import { sendReply } from './respond.ts';

// What every Telegram request (photo, morph, video) goes through before its work: the refusals that cost
// nothing, answered in the user's language and counted; then admission, in this process or on the
// queue, and the work tracked until it ends.

interface Asker {
  telegram: Telegram;
  chat: { id: number };
  from: { id: number };
  /** The message the answer quotes. */
  replyTo: number;
}

export interface Gate {
  /** Answers with a refusal's text (the file limit named is `maxFileBytes`). */
  refuse(code: ReplyCode, retryAfterSec?: number): Promise<void>;
  /** Refuses and counts it (metrics, and the log at info). */
  reject(code: ReplyCode): Promise<void>;
  /** Admits the request (or answers "busy" or the rate limit) and tracks its work. */
  admit(work: Pick<RouteRequest, 'local' | 'remote'>): Promise<void>;
}

export function gate(deps: TelegramBotDeps, req: Asker, t: Translate, context: Record<string, unknown>, maxFileBytes: number): Gate {
  const refuse = (code: ReplyCode, retryAfterSec?: number) =>
    sendReply(req.telegram, req.chat.id, req.replyTo, replyText(t, code, { maxFileBytes, ...(retryAfterSec ? { retryAfterSec } : {}) }));
  return {
    refuse,
    reject: (code) => {
      recordRefusal(deps.log, PLATFORM, code, context);
      return refuse(code);
    },
    admit: async (work) => {
      const admission = await deps.router.admit({ platform: PLATFORM, userKey: `${PLATFORM}:${req.from.id}`, context, ...work });
      if (admission.status === 'rate_limited') return refuse('rate_limited', admission.retryAfterSec);
      if (admission.status === 'busy') return refuse('busy');
      deps.jobs.track(admission.done);
    },
  };
}

/** A file refused by its declared size before it is downloaded: empty, or over `maxBytes`. */
export function sizeRefusal(size: number | undefined, maxBytes: number): ReplyCode | null {
  if (size === 0) return 'empty_file';
  if (size !== undefined && size > maxBytes) return 'file_too_large';
  return null;
}
