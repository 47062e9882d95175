import { Composer, type Context, type Telegram } from 'telegraf';
import { message } from 'telegraf/filters';
import type { FaceChoice, MatchReport } from '../../../core/engineTypes.ts';
import type { Result } from '../../../core/result.ts';
import { commandArgument, parseFaceChoice } from '../../shared/faceChoice.ts';
import { bestMatch, celebrityName, htmlMarkup, matchCaption } from '../../shared/format.ts';
import { pictureLabels, type Translate } from '../../shared/i18n.ts';
import type { Admitted } from '../../shared/limits.ts';
import { recordRefusal } from '../../../metrics.ts';
import { isOperatorFailure, replyText, reportInternalError } from '../../shared/replies.ts';
import { asksForLookalike, mentionsBot } from '../addressing.ts';
import { keepChatAction } from '../chatAction.ts';
import { CAPTION_LIMIT, PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { genderFor, tFor } from '../language.ts';
import { downloadFile, hasMedia, limitToName, pickMedia, type PickedMedia } from '../media.ts';
import { recordResult } from '../recordResult.ts';
import { photoJob } from '../jobs.ts';
import { sendPicture, sendReply } from '../respond.ts';
import { gate, sizeRefusal } from '../gate.ts';

// The look-alike itself. In a private chat every photo (or image file) is for the bot. In a group only
// a photo whose caption is /lookalike or mentions the bot, or /lookalike sent as a reply to a photo.
// "/lookalike 3" (or "/lookalike centre") matches that face of a group photo, counted from the left.

export interface Request {
  telegram: Telegram;
  /** The update that asked: the request's id on the queue. */
  updateId: number;
  chat: { id: number; type: string };
  from: { id: number; is_bot: boolean; first_name: string; last_name?: string; username?: string; language_code?: string };
  /** The message the answer quotes: the photo, or the command that pointed at it. */
  replyTo: number;
  media: PickedMedia;
  /** The text or caption that asked: its argument picks a face. */
  asked?: string;
}

export function lookalikeFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();

  composer.command('lookalike', async (ctx) => {
    const target = ctx.message.reply_to_message;
    const media = target && hasMedia(target) ? pickMedia(target) : undefined;
    if (!media) {
      await sendReply(ctx.telegram, ctx.chat.id, ctx.message.message_id, replyText(tFor(ctx.from), 'no_photo'));
      return;
    }
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, media, asked: ctx.message.text });
  });

  composer.on([message('photo'), message('document')], async (ctx, next) => {
    const bot = { id: ctx.botInfo.id, username: ctx.botInfo.username };
    if (ctx.chat.type !== 'private' && !asksForLookalike(ctx.message, bot)) return next();
    const media = pickMedia(ctx.message);
    if (!media) return next();
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, media, asked: ctx.message.caption });
  });

  // "@bot" written in reply to a photo in a group works like /lookalike.
  composer.on(message('text'), async (ctx, next) => {
    const target = ctx.message.reply_to_message;
    const bot = { id: ctx.botInfo.id, username: ctx.botInfo.username };
    if (ctx.chat.type === 'private' || !target || !hasMedia(target) || !mentionsBot(ctx.message, bot)) return next();
    const media = pickMedia(target);
    if (!media) return next();
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, media });
  });

  return composer;
}

/** Checks that cost nothing come first; then admission; then the work runs in the background, here or on a worker. */
async function accept(deps: TelegramBotDeps, req: Request): Promise<void> {
  const t = tFor(req.from);
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo };
  const { reject, admit } = gate(deps, req, t, context, deps.photoMaxBytes);

  if (req.media.kind === 'unsupported') return reject('unsupported_file');
  const tooLarge = sizeRefusal(req.media.size, deps.photoMaxBytes);
  if (tooLarge) return reject(tooLarge);
  const face = parseFaceChoice(commandArgument(req.asked));
  if (face === null) {
    recordRefusal(deps.log, PLATFORM, 'bad_face_choice', context);
    return sendReply(req.telegram, req.chat.id, req.replyTo, t('reply.bad_face_choice'));
  }

  const fileId = req.media.fileId;
  return admit({
    local: (admitted) => answer(deps, req, fileId, admitted, t, face),
    // The worker answers in the user's language (from.language_code travels in the job) and reads their
    // gender setting from the shared database; the face choice travels in the job.
    remote: async () => photoJob(req, fileId, face),
  });
}

/** Downloads, matches and answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(deps: TelegramBotDeps, req: Request, fileId: string, admission: Admitted, t: Translate, face: FaceChoice | undefined): Promise<void> {
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo };
  const stopAction = keepChatAction(req.telegram, req.chat.id, 'upload_photo', deps.chatActionIntervalMs);
  try {
    const gender = await genderFor(deps, req.from.id);
    const outcome = await admission.run(async (signal): Promise<Result<MatchReport>> => {
      const bytes = await downloadFile(req.telegram, fileId, { maxBytes: deps.photoMaxBytes, signal });
      if (!bytes.ok) return bytes;
      return deps.engine.match(bytes.value, {
        top: deps.runnersUp + 1,
        composite: true,
        maxBytes: deps.photoMaxBytes,
        signal,
        labels: pictureLabels(t),
        ...(gender ? { gender } : {}),
        ...(face !== undefined ? { face } : {}),
      });
    });
    stopAction();
    if (outcome.status === 'timeout') {
      deps.log.warn(context, 'look-alike request timed out');
      return await sendReply(req.telegram, req.chat.id, req.replyTo, replyText(t, 'timeout'));
    }
    const result = outcome.value;
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      const maxFileBytes = limitToName(result.error.message, deps.photoMaxBytes, deps.maxFileBytes);
      return await sendReply(req.telegram, req.chat.id, req.replyTo, replyText(t, result.error.code, { maxFileBytes, faces: result.error.faces }));
    }
    const report = result.value;
    const best = bestMatch(report);
    if (!report.composite || !best) throw new Error('engine reported a match without a picture or without matches');
    const caption = matchCaption(report, {
      markup: htmlMarkup,
      t,
      maxLength: CAPTION_LIMIT,
      runnersUp: deps.runnersUp,
      pickHint: t('caption.pick_face_telegram', { count: report.facesFound }),
    });
    await sendPicture(req.telegram, req.chat.id, req.replyTo, report.composite, caption);
    await recordResult(deps, req, celebrityName(best.name), best.similarity);
  } catch (err) {
    stopAction();
    const text = reportInternalError(deps.log, err, context, t);
    await sendReply(req.telegram, req.chat.id, req.replyTo, text).catch((sendErr: unknown) =>
      deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'),
    );
  }
}
