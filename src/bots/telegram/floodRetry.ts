import { TelegramError, type Telegram } from 'telegraf';
import { logger } from '../../log.ts';

// The Bot API answers 429 with parameters.retry_after when a bot sends too fast (about one message a
// second per chat, twenty a minute per group). telegraf passes the error on; the bot waits as told and
// sends again, so that a burst of answers arrives late rather than not at all.

const log = logger('telegram-flood');

export interface FloodRetryOptions {
  /** Attempts after the first (default 3). */
  maxRetries?: number;
  /** A longer wait than this is not worth it: the error goes to the caller (default 60 s). */
  maxWaitSec?: number;
}

// A chat action is only a hint; resending it late is pointless.
const NOT_RETRIED = new Set(['sendChatAction', 'getUpdates']);
const patched = new WeakSet<Telegram>();

export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof TelegramError && err.code === 429 ? (err.parameters?.retry_after ?? 1) : undefined;
}

/** Wraps one Telegram client's callApi. telegraf builds a client per update, so this runs per update. */
export function retryOnFlood(telegram: Telegram, opts: FloodRetryOptions = {}): void {
  if (patched.has(telegram)) return;
  patched.add(telegram);
  const maxRetries = opts.maxRetries ?? 3;
  const maxWaitSec = opts.maxWaitSec ?? 60;
  const original = telegram.callApi.bind(telegram);
  const withRetry = async (method: string, payload: unknown, extra?: unknown): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await (original as (m: string, p: unknown, e?: unknown) => Promise<unknown>)(method, payload, extra);
      } catch (err) {
        const wait = retryAfterOf(err);
        if (wait === undefined || NOT_RETRIED.has(method) || attempt >= maxRetries || wait > maxWaitSec) throw err;
        log.warn({ method, retryAfter: wait, attempt: attempt + 1 }, 'flood limit: waiting before sending again');
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      }
    }
  };
  telegram.callApi = withRetry as Telegram['callApi'];
}
