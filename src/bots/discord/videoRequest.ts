import type { CommandInteraction } from 'discord.js';
import { fail, type Result } from '../../core/result.ts';
import type { VideoInput, VideoReport, VideoUpdate } from '../../core/video/types.ts';
import { DownloadError } from '../shared/download.ts';
import { bestMatch, celebrityName, percent } from '../shared/format.ts';
import { pictureLabels, type Translate } from '../shared/i18n.ts';
import type { Admission } from '../shared/limits.ts';
import { internalErrorText, isOperatorFailure, newErrorId } from '../shared/replies.ts';
import { admitAndDefer } from './admit.ts';
import type { DiscordBotDeps } from './deps.ts';
import { genderFor, tFor } from './language.ts';
import { recordResult } from './recordResult.ts';
import type { VideoSource } from './media.ts';
import { matchEmbed, refuse, REPLY_FILE_NAME, type Subject } from './respond.ts';
import { discordReplyText } from './texts.ts';

// A video or GIF attached to /lookalike, matched live: the deferred reply becomes "Watching..." and is
// edited with the best match so far (at most every EDIT_INTERVAL_MS per channel; discord.js waits out
// any 429 itself), then the reply picture comes as a follow-up.

export const MAX_VIDEO_SECONDS = 60;
export const MAX_VIDEO_BYTES = 20 * 1024 * 1024;
export const EDIT_INTERVAL_MS = 1500;

const lastEditAt = new Map<string, number>();

export async function requestVideoLookalike(
  interaction: CommandInteraction,
  source: VideoSource,
  deps: DiscordBotDeps,
  opts: { genderOption?: string | null; subject?: Subject } = {},
): Promise<void> {
  const t = tFor(interaction);
  const maxBytes = Math.min(deps.maxFileBytes, MAX_VIDEO_BYTES);
  if (source.size !== undefined && source.size > maxBytes) return refuse(interaction, discordReplyText(t, 'file_too_large', { maxFileBytes: maxBytes }));
  const admission = await admitAndDefer(interaction, deps);
  if (!admission) return;
  deps.jobs.track(answer(interaction, source, maxBytes, admission, deps, t, opts));
}

function progressText(update: VideoUpdate, t: Translate): string {
  const best = update.tracks[0]?.matches[0];
  const count = update.framesProcessed;
  return best ? t('video.progress', { count, name: celebrityName(best.name), percent: percent(best.similarity) }) : t('video.progress_none', { count });
}

async function openDownload(url: string, signal: AbortSignal): Promise<VideoInput> {
  const res = await fetch(url, { signal });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new DownloadError(res.status);
  }
  return res.body as unknown as AsyncIterable<Uint8Array>;
}

async function answer(
  interaction: CommandInteraction,
  source: VideoSource,
  maxBytes: number,
  admission: Extract<Admission, { status: 'ok' }>,
  deps: DiscordBotDeps,
  t: Translate,
  opts: { genderOption?: string | null; subject?: Subject },
): Promise<void> {
  const context = { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, source: 'video' };
  const channel = interaction.channelId ?? interaction.id;
  let editing: Promise<void> | null = null;
  const edit = (content: string): Promise<void> => {
    lastEditAt.set(channel, Date.now());
    return interaction.editReply({ content }).then(
      () => undefined,
      (err: unknown) => deps.log.warn({ ...context, err }, 'progress edit failed'),
    );
  };
  try {
    await edit(t('video.watching'));
    const gender = await genderFor(deps, interaction.user.id, opts.genderOption ?? null);
    const outcome = await admission.run(async (signal): Promise<Result<VideoReport> | 'download_failed'> => {
      let input: VideoInput;
      try {
        input = await openDownload(source.url, signal);
      } catch (err) {
        if (err instanceof DownloadError) return 'download_failed';
        throw err;
      }
      for await (const event of deps.engine.matchVideo!(input, { maxBytes, maxSeconds: MAX_VIDEO_SECONDS, top: deps.runnersUp + 1, labels: pictureLabels(t), ...(gender ? { gender } : {}) })) {
        if (event.kind === 'result') return event.result;
        if (signal.aborted) return fail('corrupt_video', 'timed out');
        if (!editing && Date.now() - (lastEditAt.get(channel) ?? 0) >= EDIT_INTERVAL_MS) {
          editing = edit(progressText(event.update, t)).finally(() => {
            editing = null;
          });
        }
      }
      throw new Error('video match ended without a result');
    });
    await editing;
    if (outcome.status === 'timeout') return await refuse(interaction, discordReplyText(t, 'timeout'));
    const result = outcome.value;
    if (result === 'download_failed') return await refuse(interaction, discordReplyText(t, 'download_failed'));
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      return await refuse(interaction, discordReplyText(t, result.error.code, { maxFileBytes: maxBytes }));
    }
    const report = result.value;
    const best = bestMatch(report);
    if (!report.composite || !best) return await refuse(interaction, discordReplyText(t, 'no_face'));
    await edit(t('video.done', { count: report.framesProcessed, name: celebrityName(best.name), percent: percent(best.similarity) }));
    await interaction.followUp({
      embeds: [matchEmbed(report, { subject: opts.subject ?? { kind: 'you' }, runnersUp: deps.runnersUp, t })],
      files: [{ attachment: report.composite, name: REPLY_FILE_NAME }],
    });
    await recordResult(interaction, deps, celebrityName(best.name), best.similarity);
  } catch (err) {
    await editing;
    const errorId = newErrorId();
    deps.log.error({ err, errorId, ...context }, 'request failed');
    await refuse(interaction, internalErrorText(errorId, t)).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}
