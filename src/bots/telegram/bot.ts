import { Telegraf, type Context } from 'telegraf';
import { DEFAULT_MAX_BYTES } from '../../core/decode.ts';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import { VIDEO_DEFAULTS } from '../../core/video/matchVideo.ts';
import type { Store } from '../../db/types.ts';
import { logger, type Logger } from '../../log.ts';
import { BackgroundJobs } from '../shared/backgroundJobs.ts';
import { RequestLimits, type LimitsOptions } from '../shared/limits.ts';
import { reportInternalError } from '../shared/replies.ts';
import { LocalRouter, type RequestRouter } from '../shared/router.ts';
import type { TelegramBotDeps } from './deps.ts';
import { forgetFeature } from './features/forget.ts';
import { hideFeature } from './features/hide.ts';
import { leaderboardFeature } from './features/leaderboard.ts';
import { lookalikeFeature } from './features/lookalike.ts';
import { morphFeature } from './features/morph.ts';
import { privateHintsFeature } from './features/privateHints.ts';
import { settingsFeature } from './features/settings.ts';
import { startFeature } from './features/start.ts';
import { videoFeature } from './features/video.ts';
import { retryOnFlood, type FloodRetryOptions } from './floodRetry.ts';
import { tFor } from './language.ts';
import { replyToMessage } from './respond.ts';

// The one place where the Telegram bot is put together: its features, in the order they see updates.

export const TELEGRAM_API_ROOT = 'https://api.telegram.org';
/** The Bot API's getFile limit on Telegram's own servers. */
export const TELEGRAM_DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024;

export interface TelegramBotOptions {
  token: string;
  /** Another Bot API server (self-hosted, or the tests' emulator). Default: Telegram's own. */
  apiRoot?: string;
  engine: LookalikeEngine;
  store: Store;
  /** Ready-made limits (shared with another bot in the same process) or options for new ones. */
  limits?: RequestLimits | Partial<LimitsOptions>;
  /** Where admitted requests run; default: in this process, under `limits`. */
  router?: RequestRouter;
  /**
   * Refuse files above this without downloading them. Default: 20 MB on Telegram's servers; with
   * another apiRoot, null: the server decides (getFile answers "file is too big" past its limit), and
   * downloads stop at what the file is for (the decoder's byte limit, the video limit).
   */
  maxFileBytes?: number | null;
  runnersUp?: number;
  chatActionIntervalMs?: number;
  floodRetry?: FloodRetryOptions;
  log?: Logger;
}

export interface TelegramBot {
  readonly telegraf: Telegraf<Context>;
  readonly deps: TelegramBotDeps;
  /** Resolves once every accepted photo has been answered. */
  drain(): Promise<void>;
}

export function defaultMaxFileBytes(apiRoot: string | undefined): number | null {
  if (apiRoot === undefined) return TELEGRAM_DOWNLOAD_LIMIT_BYTES;
  return new URL(apiRoot).hostname === new URL(TELEGRAM_API_ROOT).hostname ? TELEGRAM_DOWNLOAD_LIMIT_BYTES : null;
}

/** What the features use, for a bot or for a worker answering the bot's requests (worker.ts). */
export function telegramBotDeps(opts: Omit<TelegramBotOptions, 'token' | 'floodRetry'>): TelegramBotDeps {
  const log = opts.log ?? logger('telegram');
  const maxFileBytes = opts.maxFileBytes !== undefined ? opts.maxFileBytes : defaultMaxFileBytes(opts.apiRoot);
  const limits = opts.limits instanceof RequestLimits ? opts.limits : new RequestLimits(opts.limits);
  return {
    engine: opts.engine,
    store: opts.store,
    limits,
    router: opts.router ?? new LocalRouter(limits, log),
    jobs: new BackgroundJobs(),
    maxFileBytes,
    photoMaxBytes: maxFileBytes ?? DEFAULT_MAX_BYTES,
    videoMaxBytes: Math.min(maxFileBytes ?? VIDEO_DEFAULTS.maxBytes, VIDEO_DEFAULTS.maxBytes),
    runnersUp: opts.runnersUp ?? 3,
    chatActionIntervalMs: opts.chatActionIntervalMs ?? 4500,
    log,
  };
}

export function createTelegramBot(opts: TelegramBotOptions): TelegramBot {
  const deps = telegramBotDeps(opts);
  const log = deps.log;

  const telegraf = new Telegraf<Context>(opts.token, {
    // Look-alike work outlives its update (see BackgroundJobs); this bounds the quick handlers only.
    handlerTimeout: 30_000,
    telegram: {
      ...(opts.apiRoot ? { apiRoot: opts.apiRoot } : {}),
      // Every call goes through the API, so that its result (and any error) is seen.
      webhookReply: false,
    },
  });
  retryOnFlood(telegraf.telegram, opts.floodRetry);

  telegraf.use((ctx, next) => {
    retryOnFlood(ctx.telegram, opts.floodRetry);
    return next();
  });
  telegraf.use(startFeature());
  telegraf.use(leaderboardFeature(deps));
  telegraf.use(hideFeature(deps));
  telegraf.use(forgetFeature(deps));
  telegraf.use(settingsFeature(deps));
  // Before the photo feature: a photo captioned /morph is for the morph.
  telegraf.use(morphFeature(deps));
  // Before the photo feature: an animation also arrives as a document, and so does an MP4 or GIF file.
  telegraf.use(videoFeature(deps));
  telegraf.use(lookalikeFeature(deps));
  telegraf.use(privateHintsFeature());

  // Anything a handler throws (a store that is down, a refused reply) ends here: logged once with an
  // id, and the user gets the apology with that id instead of silence.
  telegraf.catch(async (err, ctx) => {
    const text = reportInternalError(log, err, { updateId: ctx.update.update_id, chatId: ctx.chat?.id }, tFor(ctx.from));
    await replyToMessage(ctx, text).catch((sendErr: unknown) => log.warn({ err: sendErr }, 'could not send the error reply'));
  });

  return { telegraf, deps, drain: () => deps.jobs.drain() };
}
