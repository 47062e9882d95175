import type { CommandInteraction } from 'discord.js';
import type { FaceChoice, MatchReport } from '../../core/engineTypes.ts';
import type { Result } from '../../core/result.ts';
import { DownloadError, downloadUrl } from '../shared/download.ts';
import { bestMatch, celebrityName } from '../shared/format.ts';
import { pictureLabels, type Translate } from '../shared/i18n.ts';
import type { Admitted } from '../shared/limits.ts';
import { isOperatorFailure, reportInternalError } from '../shared/replies.ts';
import { admitAndDefer } from './admit.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { recordRefusal } from '../../metrics.ts';
import { genderFor, tFor } from './language.ts';
import { recordResult } from './recordResult.ts';
import type { AttachmentVerdict, PhotoSource } from './media.ts';
import { matchEmbed, REPLY_FILE_NAME, refuse, type Subject } from './respond.ts';
import { discordReplyText } from './texts.ts';

// One look-alike request, whichever command started it. Checks that cost nothing come first and are
// refused at once; then admission (rate limit, queue); then the reply is deferred, well within Discord's
// three seconds, and the work runs in the background until the picture replaces the "thinking…" reply.

export interface PhotoRequest {
  interaction: CommandInteraction;
  source: PhotoSource;
  /** Who is in the picture, for the embed's title. */
  subject: Subject;
  /** A face of a group photo (the `face` option). */
  face?: FaceChoice;
  /** The `gender` option, when given: used, and remembered as the user's setting. */
  genderOption?: string | null;
}

const VERDICT_REPLIES = { video: 'video_not_supported', unsupported: 'unsupported_file', too_large: 'file_too_large', empty: 'empty_file' } as const;

/** Refuses what an attachment's declared type and size rule out. True when it did. */
export async function refuseAttachment(interaction: CommandInteraction, verdict: AttachmentVerdict, deps: DiscordBotDeps): Promise<boolean> {
  if (verdict.kind === 'image') return false;
  recordRefusal(deps.log, PLATFORM, VERDICT_REPLIES[verdict.kind], { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id });
  await refuse(interaction, discordReplyText(tFor(interaction), VERDICT_REPLIES[verdict.kind], { maxFileBytes: deps.maxFileBytes }));
  return true;
}

export function requestLookalike(req: PhotoRequest, deps: DiscordBotDeps): Promise<void> {
  // On a worker the interaction's locale (its language) travels in the job, and so do the face and the
  // gender option; the stored gender setting is read from the shared database there.
  const job = {
    kind: 'photo' as const,
    source: req.source,
    subject: req.subject,
    ...(req.face !== undefined ? { face: req.face } : {}),
    ...(req.genderOption ? { genderOption: req.genderOption } : {}),
  };
  return admitAndDefer(req.interaction, deps, (admitted) => answer(req, admitted, deps, tFor(req.interaction)), job);
}

/** Downloads, matches and answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(req: PhotoRequest, admission: Admitted, deps: DiscordBotDeps, t: Translate): Promise<void> {
  const { interaction } = req;
  const context = { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, source: req.source.kind };
  try {
    const gender = await genderFor(deps, interaction.user.id, req.genderOption ?? null);
    const outcome = await admission.run(async (signal): Promise<Result<MatchReport> | 'download_failed'> => {
      const bytes = await download(req.source, deps, signal);
      if (bytes === 'download_failed' || !bytes.ok) return bytes;
      return deps.engine.match(bytes.value, {
        top: deps.runnersUp + 1,
        composite: true,
        maxBytes: deps.maxFileBytes,
        signal,
        labels: pictureLabels(t),
        ...(gender ? { gender } : {}),
        ...(req.face !== undefined ? { face: req.face } : {}),
      });
    });
    if (outcome.status === 'timeout') {
      deps.log.warn(context, 'look-alike request timed out');
      return await refuse(interaction, discordReplyText(t, 'timeout'));
    }
    const result = outcome.value;
    if (result === 'download_failed') return await refuse(interaction, discordReplyText(t, 'download_failed'));
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      return await refuse(interaction, discordReplyText(t, result.error.code, { maxFileBytes: deps.maxFileBytes, faces: result.error.faces }));
    }
    const report = result.value;
    const best = bestMatch(report);
    if (!report.composite || !best) throw new Error('engine reported a match without a picture or without matches');
    await interaction.editReply({
      embeds: [matchEmbed(report, { subject: req.subject, runnersUp: deps.runnersUp, t, pickHint: t('caption.pick_face_discord', { count: report.facesFound }) })],
      files: [{ attachment: report.composite, name: REPLY_FILE_NAME }],
    });
    await recordResult(req.interaction, deps, celebrityName(best.name), best.similarity);
  } catch (err) {
    await refuse(interaction, reportInternalError(deps.log, err, context, t)).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}

/** A picture's bytes, capped at the photo limit; 'download_failed' when the link or the CDN fails (the user can try again). */
export async function download(source: PhotoSource, deps: DiscordBotDeps, signal: AbortSignal): Promise<Result<Buffer> | 'download_failed'> {
  try {
    return await downloadUrl(source.url, { maxBytes: deps.maxFileBytes, signal });
  } catch (err) {
    // An expired attachment link or a CDN hiccup: the user can simply try again.
    if (err instanceof DownloadError) {
      deps.log.warn({ status: err.status, source: source.kind }, 'download failed');
      return 'download_failed';
    }
    throw err;
  }
}
