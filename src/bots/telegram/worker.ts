import { Telegram } from 'telegraf';
import { metrics } from '../../metrics.ts';
import type { MatchJobContext, MatchJobHandler } from '../../queue/matchWorker.ts';
import type { TelegramBotDeps } from './deps.ts';
import { PLATFORM } from './deps.ts';
import { answer as answerPhoto } from './features/lookalike.ts';
import { answer as answerMorph } from './features/morph.ts';
import { answer as answerVideo } from './features/video.ts';
import { retryOnFlood, type FloodRetryOptions } from './floodRetry.ts';
import type { TelegramJob } from './jobs.ts';
import { tFor } from './language.ts';

// A worker answering Telegram requests itself: with the bot's token (TELEGRAM_BOT_TOKEN on the worker)
// it downloads the file by its file_id and sends the answer, through the same code as the bot in one
// process. New messages (the picture, a refusal, an apology) go through the reply ledger, so a job
// run twice answers once; edits of "Watching..." are the same edit made again.

/** Methods that post a new message: each request gets one. */
const ANSWERS = new Set(['sendMessage', 'sendPhoto', 'sendAnimation']);

export interface TelegramWorkerOptions {
  token: string;
  apiRoot?: string;
  floodRetry?: FloodRetryOptions;
}

export function telegramJobHandler(deps: TelegramBotDeps, opts: TelegramWorkerOptions): MatchJobHandler {
  return async (data, ctx) => {
    const job = data as TelegramJob;
    const telegram = answeringClient(opts, ctx);
    const req = { telegram, updateId: job.updateId, chat: job.chat, from: job.from, replyTo: job.replyTo };
    // Texts in the user's language, as the front end would have written them.
    const t = tFor(job.from);
    if (job.kind === 'photo') {
      await answerPhoto(deps, { ...req, media: { kind: 'image', fileId: job.fileId } }, job.fileId, ctx.admitted, t, job.face);
    } else if (job.kind === 'morph') {
      await answerMorph(deps, { ...req, media: { kind: 'image', fileId: job.fileId }, asked: undefined }, job.fileId, ctx.admitted, t, job.face);
    } else {
      const video = { ...req, fileId: job.fileId, ...(job.size !== undefined ? { size: job.size } : {}), ...(job.duration !== undefined ? { duration: job.duration } : {}) };
      await answerVideo(deps, video, job.watchingId, ctx.admitted, t);
    }
  };
}

/** A Bot API client for one job: flood retries as the bot has, and its new messages sent once per request. */
function answeringClient(opts: TelegramWorkerOptions, ctx: MatchJobContext): Telegram {
  const telegram = new Telegram(opts.token, { ...(opts.apiRoot ? { apiRoot: opts.apiRoot } : {}), webhookReply: false });
  retryOnFlood(telegram, opts.floodRetry);
  const call = telegram.callApi.bind(telegram) as (method: string, payload: unknown, extra?: unknown) => Promise<unknown>;
  const once = async (method: string, payload: unknown, extra?: unknown): Promise<unknown> => {
    if (!ANSWERS.has(method)) return call(method, payload, extra);
    const t = performance.now();
    const sent = await ctx.sendOnce(() => call(method, payload, extra));
    metrics.stage(PLATFORM, 'reply', (performance.now() - t) / 1000);
    // Already answered by an earlier run of this job: the callers only need the call to succeed.
    return sent.sent ? sent.value : { message_id: 0, date: 0, chat: { id: 0, type: 'private' } };
  };
  telegram.callApi = once as Telegram['callApi'];
  return telegram;
}
