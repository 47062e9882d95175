import { Composer, type Context, type Telegram } from 'telegraf';
import { message } from 'telegraf/filters';
import type { Result } from '../../../core/result.ts';
import type { VideoReport } from '../../../core/video/types.ts';
import { EditThrottle } from '../../shared/editThrottle.ts';
import { bestMatch, celebrityName, htmlMarkup, matchCaption } from '../../shared/format.ts';
import { pictureLabels, type Translate } from '../../shared/i18n.ts';
import type { Admitted } from '../../shared/limits.ts';
import { isOperatorFailure, replyText, reportInternalError } from '../../shared/replies.ts';
import { doneText, progressText, watchingText } from '../../shared/videoReplies.ts';
import { asksForLookalike } from '../addressing.ts';
import { CAPTION_LIMIT, type TelegramBotDeps } from '../deps.ts';
import { gate, sizeRefusal } from '../gate.ts';
import { genderFor, tFor } from '../language.ts';
import { limitToName, openFile } from '../media.ts';
import { recordResult } from '../recordResult.ts';
import { replyParameters, sendPicture, sendReply } from '../respond.ts';
import { videoJob } from '../jobs.ts';

// Live matching of video notes, videos, animations, and MP4 or GIF files sent as documents: "Watching..." at once, that message edited with
// the best match so far while the video streams through the engine, then the reply picture. In a group
// a video counts only when its caption asks (/lookalike or a mention), or when /lookalike answers it;
// a video note has no caption, so there only the second way works.

/** Telegram video notes last at most a minute; longer videos are refused before download. */
export const MAX_VIDEO_SECONDS = 60;
/** At most one progress edit per chat this often (Telegram allows about one message a second per chat). */
export const EDIT_INTERVAL_MS = 1500;

export interface VideoRequest {
  telegram: Telegram;
  /** The update that asked: the request's id on the queue. */
  updateId: number;
  chat: { id: number; type: string };
  from: { id: number; is_bot: boolean; first_name: string; last_name?: string; username?: string; language_code?: string };
  replyTo: number;
  fileId: string;
  size?: number;
  duration?: number;
}

interface VideoFields {
  video?: { file_id: string; duration: number; file_size?: number };
  video_note?: { file_id: string; duration: number; file_size?: number };
  animation?: { file_id: string; duration: number; file_size?: number };
  document?: { file_id: string; file_name?: string; mime_type?: string; file_size?: number };
}

const MOVING_FILE = /\.(mp4|m4v|mov|webm|mkv|gif)$/i;

/** An MP4, WebM or GIF sent as a file: a video to watch, not a photo to refuse. Its duration is unknown until decoded. */
export function isVideoDocument(doc: { file_name?: string; mime_type?: string }): boolean {
  const mime = (doc.mime_type ?? '').toLowerCase();
  if (mime.startsWith('video/') || mime === 'image/gif') return true;
  return (mime === '' || mime === 'application/octet-stream') && MOVING_FILE.test(doc.file_name ?? '');
}

function pickVideo(msg: VideoFields): { fileId: string; size?: number; duration?: number } | undefined {
  const v = msg.video_note ?? msg.video ?? msg.animation;
  if (v) return { fileId: v.file_id, duration: v.duration, ...(v.file_size !== undefined ? { size: v.file_size } : {}) };
  const doc = msg.document;
  if (doc && isVideoDocument(doc)) return { fileId: doc.file_id, ...(doc.file_size !== undefined ? { size: doc.file_size } : {}) };
  return undefined;
}

/** Per chat: when the last progress edit went out. Shared by every video of the chat. */
const edits = new EditThrottle<number>(EDIT_INTERVAL_MS);

export function videoFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  // /lookalike sent in reply to a video (the way to ask in a group, where video notes have no caption).
  composer.command('lookalike', async (ctx, next) => {
    const target = ctx.message.reply_to_message;
    const video = target ? pickVideo(target as VideoFields) : undefined;
    if (!video) return next();
    if (!deps.engine.matchVideo) {
      await sendReply(ctx.telegram, ctx.chat.id, ctx.message.message_id, replyText(tFor(ctx.from), 'video_not_supported'));
      return;
    }
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, ...video });
  });
  composer.on([message('video_note'), message('video'), message('animation'), message('document')], async (ctx, next) => {
    const bot = { id: ctx.botInfo.id, username: ctx.botInfo.username };
    if (ctx.chat.type !== 'private' && !('caption' in ctx.message && asksForLookalike(ctx.message, bot))) return next();
    const video = pickVideo(ctx.message as VideoFields);
    if (!video) return next();
    if (!deps.engine.matchVideo) {
      await sendReply(ctx.telegram, ctx.chat.id, ctx.message.message_id, replyText(tFor(ctx.from), 'video_not_supported'));
      return;
    }
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, ...video });
  });
  return composer;
}

async function accept(deps: TelegramBotDeps, req: VideoRequest): Promise<void> {
  const t = tFor(req.from);
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo, video: true };
  const { reject, admit } = gate(deps, req, t, context, deps.videoMaxBytes);
  if (req.duration !== undefined && req.duration > MAX_VIDEO_SECONDS) return reject('video_too_long');
  const tooLarge = sizeRefusal(req.size, deps.videoMaxBytes);
  if (tooLarge) return reject(tooLarge);
  return admit({
    local: (admitted) => watch(deps, req, admitted, t),
    // On a worker: "Watching..." goes out from here at once, in the user's language, and the worker edits it.
    remote: async () => {
      const watchingId = await sendWatching(deps, req, t);
      return watchingId === null ? null : videoJob(req, watchingId);
    },
  });
}

/** "Watching..." first; if even that cannot be sent (bot blocked, muted, Telegram down) there is nobody to answer. */
async function watch(deps: TelegramBotDeps, req: VideoRequest, admitted: Admitted, t: Translate): Promise<void> {
  const watchingId = await sendWatching(deps, req, t);
  if (watchingId !== null) await answer(deps, req, watchingId, admitted, t);
}

async function sendWatching(deps: TelegramBotDeps, req: VideoRequest, t: Translate): Promise<number | null> {
  try {
    return (await req.telegram.sendMessage(req.chat.id, watchingText(t), { reply_parameters: replyParameters(req.replyTo) })).message_id;
  } catch (err) {
    deps.log.warn({ chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo, err }, 'could not send "Watching..."; dropping the video');
    return null;
  }
}

/** Streams the video through the engine, editing "Watching...", then answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(deps: TelegramBotDeps, req: VideoRequest, watchingId: number, admission: Admitted, t: Translate): Promise<void> {
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo, video: true };
  const engine = deps.engine;
  let editing: Promise<void> | null = null;
  let lastText = watchingText(t);
  const edit = (text: string): Promise<void> => {
    if (text === lastText) return Promise.resolve();
    lastText = text;
    edits.mark(req.chat.id);
    // The flood retry wrapper waits out a 429's retry_after; no other edit starts meanwhile.
    return req.telegram.editMessageText(req.chat.id, watchingId, undefined, text).then(
      () => undefined,
      (err: unknown) => deps.log.warn({ ...context, err }, 'progress edit failed'),
    );
  };
  try {
    if (!engine.matchVideo) throw new Error('this engine cannot match videos');
    const gender = await genderFor(deps, req.from.id);
    const outcome = await admission.run(async (signal): Promise<Result<VideoReport>> => {
      const input = await openFile(req.telegram, req.fileId, { maxBytes: deps.videoMaxBytes, signal });
      if (!input.ok) return input;
      const personal = { labels: pictureLabels(t), ...(gender ? { gender } : {}) };
      const events = engine.matchVideo!(input.value, { maxBytes: deps.videoMaxBytes, maxSeconds: MAX_VIDEO_SECONDS, top: deps.runnersUp + 1, signal, ...personal });
      for await (const event of events) {
        if (event.kind === 'result') return event.result;
        if (!editing && edits.due(req.chat.id)) {
          editing = edit(progressText(event.update, t)).finally(() => {
            editing = null;
          });
        }
      }
      throw new Error('video match ended without a result');
    });
    await editing;
    if (outcome.status === 'timeout') {
      deps.log.warn(context, 'video request timed out');
      await edit(replyText(t, 'timeout'));
      return;
    }
    const result = outcome.value;
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      await edit(replyText(t, result.error.code, { maxFileBytes: limitToName(result.error.message, deps.videoMaxBytes, deps.maxFileBytes) }));
      return;
    }
    const report = result.value;
    const best = bestMatch(report);
    if (!report.composite || !best) {
      await edit(replyText(t, 'no_face'));
      return;
    }
    await edit(doneText(report, best, t));
    const caption = matchCaption(report, { markup: htmlMarkup, t, maxLength: CAPTION_LIMIT, runnersUp: deps.runnersUp });
    await sendPicture(req.telegram, req.chat.id, req.replyTo, report.composite, caption);
    await recordResult(deps, req, celebrityName(best.name), best.similarity);
  } catch (err) {
    await editing;
    const text = reportInternalError(deps.log, err, context, t);
    await edit(text);
  }
}
