import { Composer, type Context, type Telegram } from 'telegraf';
import { message } from 'telegraf/filters';
import type { FaceChoice, MorphReport } from '../../../core/engineTypes.ts';
import type { Result } from '../../../core/result.ts';
import { commandArgument, parseFaceChoice } from '../../shared/faceChoice.ts';
import { celebrityName, htmlMarkup, percent } from '../../shared/format.ts';
import type { Translate } from '../../shared/i18n.ts';
import type { Admitted } from '../../shared/limits.ts';
import { isOperatorFailure, replyText, reportInternalError } from '../../shared/replies.ts';
import { leadingCommand } from '../addressing.ts';
import { keepChatAction } from '../chatAction.ts';
import { PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { gate, sizeRefusal } from '../gate.ts';
import { genderFor, tFor } from '../language.ts';
import { downloadFile, hasMedia, limitToName, pickMedia, type PickedMedia } from '../media.ts';
import { replyParameters, sendReply } from '../respond.ts';
import { morphJob } from '../jobs.ts';
import { recordRefusal } from '../../../metrics.ts';

// /morph: the user's face turning into their best match's and back, as an MP4 animation (what
// sendAnimation plays inline, looping and silent). Asked as a reply to a photo, or as a photo's caption.
// With a queue (LOOKALIKE_REDIS_URL) the morph runs on a worker, like a look-alike: the front end has no engine.

/** Telegram's limit for animations the apps autoplay inline. */
export const ANIMATION_LIMIT_BYTES = 10 * 1024 * 1024;

export interface MorphRequest {
  telegram: Telegram;
  /** The update that asked: the request's id on the queue. */
  updateId: number;
  chat: { id: number; type: string };
  from: { id: number; is_bot: boolean; first_name: string; last_name?: string; username?: string; language_code?: string };
  replyTo: number;
  media: PickedMedia | undefined;
  asked: string | undefined;
}

export function morphFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('morph', async (ctx) => {
    const target = ctx.message.reply_to_message;
    const media = target && hasMedia(target) ? pickMedia(target) : undefined;
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, media, asked: ctx.message.text });
  });
  composer.on([message('photo'), message('document')], async (ctx, next) => {
    if (leadingCommand(ctx.message, { id: ctx.botInfo.id, username: ctx.botInfo.username }) !== 'morph') return next();
    await accept(deps, { telegram: ctx.telegram, updateId: ctx.update.update_id, chat: ctx.chat, from: ctx.from, replyTo: ctx.message.message_id, media: pickMedia(ctx.message), asked: ctx.message.caption });
  });
  return composer;
}

async function accept(deps: TelegramBotDeps, req: MorphRequest): Promise<void> {
  const t = tFor(req.from);
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo, morph: true };
  const { reject, admit } = gate(deps, req, t, context, deps.photoMaxBytes);
  if (!req.media) return sendReply(req.telegram, req.chat.id, req.replyTo, t('morph.no_photo'));
  if (req.media.kind === 'unsupported') return reject('unsupported_file');
  const tooLarge = sizeRefusal(req.media.size, deps.photoMaxBytes);
  if (tooLarge) return reject(tooLarge);
  if (!deps.engine.morph) return reject('no_index');
  const face = parseFaceChoice(commandArgument(req.asked));
  if (face === null) {
    recordRefusal(deps.log, PLATFORM, 'bad_face_choice', context);
    return sendReply(req.telegram, req.chat.id, req.replyTo, t('reply.bad_face_choice'));
  }
  const fileId = req.media.fileId;
  return admit({
    local: (admitted) => answer(deps, req, fileId, admitted, t, face),
    remote: async () => morphJob(req, fileId, face),
  });
}

/** Downloads, morphs and answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(deps: TelegramBotDeps, req: MorphRequest, fileId: string, admission: Admitted, t: Translate, face: FaceChoice | undefined): Promise<void> {
  const context = { chatId: req.chat.id, userId: req.from.id, messageId: req.replyTo, morph: true };
  const stopAction = keepChatAction(req.telegram, req.chat.id, 'upload_video', deps.chatActionIntervalMs);
  try {
    const gender = await genderFor(deps, req.from.id);
    const outcome = await admission.run(async (signal): Promise<Result<MorphReport>> => {
      const bytes = await downloadFile(req.telegram, fileId, { maxBytes: deps.photoMaxBytes, signal });
      if (!bytes.ok) return bytes;
      return deps.engine.morph!(bytes.value, {
        format: 'mp4',
        maxBytes: deps.photoMaxBytes,
        signal,
        ...(gender ? { gender } : {}),
        ...(face !== undefined ? { face } : {}),
      });
    });
    stopAction();
    if (outcome.status === 'timeout') {
      deps.log.warn(context, 'morph request timed out');
      return await sendReply(req.telegram, req.chat.id, req.replyTo, replyText(t, 'timeout'));
    }
    const result = outcome.value;
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      const maxFileBytes = limitToName(result.error.message, deps.photoMaxBytes, deps.maxFileBytes);
      return await sendReply(req.telegram, req.chat.id, req.replyTo, replyText(t, result.error.code, { maxFileBytes, faces: result.error.faces }));
    }
    await sendMorph(req, result.value, t);
  } catch (err) {
    stopAction();
    const text = reportInternalError(deps.log, err, context, t);
    await sendReply(req.telegram, req.chat.id, req.replyTo, text).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}

async function sendMorph(req: MorphRequest, report: MorphReport, t: Translate): Promise<void> {
  if (report.animation.length > ANIMATION_LIMIT_BYTES) throw new Error(`morph animation of ${report.animation.length} bytes is over Telegram's inline limit`);
  const caption = t('morph.caption', { name: htmlMarkup.bold(htmlMarkup.escape(celebrityName(report.match.name))), percent: percent(report.match.similarity) });
  await req.telegram.sendAnimation(
    req.chat.id,
    { source: report.animation, filename: `morph.${report.format}` },
    {
      caption,
      parse_mode: 'HTML',
      width: report.size,
      height: report.size,
      duration: Math.max(1, Math.round(report.durationMs / 1000)),
      // See sendPicture: object-valued fields go JSON-serialised in a multipart upload.
      reply_parameters: JSON.stringify(replyParameters(req.replyTo)) as unknown as ReturnType<typeof replyParameters>,
    },
  );
}
