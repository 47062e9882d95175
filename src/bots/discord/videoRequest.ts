import type { CommandInteraction } from 'discord.js';
import type { Result } from '../../core/result.ts';
import { VIDEO_DEFAULTS } from '../../core/video/matchVideo.ts';
import type { VideoInput, VideoReport } from '../../core/video/types.ts';
import { DownloadError, openUrl } from '../shared/download.ts';
import { EditThrottle } from '../shared/editThrottle.ts';
import { bestMatch, celebrityName } from '../shared/format.ts';
import { pictureLabels, type Translate } from '../shared/i18n.ts';
import type { Admitted } from '../shared/limits.ts';
import { isOperatorFailure, reportInternalError } from '../shared/replies.ts';
import { doneText, progressText, watchingText } from '../shared/videoReplies.ts';
import { admitAndDefer } from './admit.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { recordRefusal } from '../../metrics.ts';
import { genderFor, tFor } from './language.ts';
import type { VideoSource } from './media.ts';
import { recordResult } from './recordResult.ts';
import { matchEmbed, refuse, REPLY_FILE_NAME, type Subject } from './respond.ts';
import { discordReplyText } from './texts.ts';

// A video or GIF attached to /lookalike, matched live: the deferred reply becomes "Watching..." and is
// edited with the best match so far (at most every EDIT_INTERVAL_MS per channel; discord.js waits out
// any 429 itself), then the reply picture comes as a follow-up.

export const MAX_VIDEO_SECONDS = 60;
export const MAX_VIDEO_BYTES = VIDEO_DEFAULTS.maxBytes;
export const EDIT_INTERVAL_MS = 1500;

/** Per channel: when the last progress edit went out. */
const edits = new EditThrottle<string>(EDIT_INTERVAL_MS);

export function requestVideoLookalike(
  interaction: CommandInteraction,
  source: VideoSource,
  deps: DiscordBotDeps,
  opts: { genderOption?: string | null; subject?: Subject } = {},
): Promise<void> {
  const t = tFor(interaction);
  const maxBytes = Math.min(deps.maxFileBytes, MAX_VIDEO_BYTES);
  // An embed's video has no size until it arrives: the download's cap refuses it then.
  if (source.size !== undefined && source.size > maxBytes) {
    recordRefusal(deps.log, PLATFORM, 'file_too_large', { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, video: true });
    return refuse(interaction, discordReplyText(t, 'file_too_large', { maxFileBytes: maxBytes }));
  }
  return admitAndDefer(interaction, deps, (admitted) => answer(interaction, source, maxBytes, admitted, deps, t, opts), { kind: 'video', source, maxBytes, ...opts });
}

/** Streams the video through the engine, editing the reply, then answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(
  interaction: CommandInteraction,
  source: VideoSource,
  maxBytes: number,
  admission: Admitted,
  deps: DiscordBotDeps,
  t: Translate,
  opts: { genderOption?: string | null; subject?: Subject },
): Promise<void> {
  const context = { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, source: 'video' };
  const channel = interaction.channelId ?? interaction.id;
  let editing: Promise<void> | null = null;
  const edit = (content: string): Promise<void> => {
    edits.mark(channel);
    return interaction.editReply({ content }).then(
      () => undefined,
      (err: unknown) => deps.log.warn({ ...context, err }, 'progress edit failed'),
    );
  };
  try {
    await edit(watchingText(t));
    const gender = await genderFor(deps, interaction.user.id, opts.genderOption ?? null);
    const outcome = await admission.run(async (signal): Promise<Result<VideoReport> | 'download_failed'> => {
      let input: Result<VideoInput>;
      try {
        input = await openUrl(source.url, { maxBytes, signal });
      } catch (err) {
        if (err instanceof DownloadError) return 'download_failed';
        throw err;
      }
      if (!input.ok) return input;
      const personal = { labels: pictureLabels(t), ...(gender ? { gender } : {}) };
      for await (const event of deps.engine.matchVideo!(input.value, { maxBytes, maxSeconds: MAX_VIDEO_SECONDS, top: deps.runnersUp + 1, signal, ...personal })) {
        if (event.kind === 'result') return event.result;
        if (!editing && edits.due(channel)) {
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
    await edit(doneText(report, best, t));
    await interaction.followUp({
      embeds: [matchEmbed(report, { subject: opts.subject ?? { kind: 'you' }, runnersUp: deps.runnersUp, t })],
      files: [{ attachment: report.composite, name: REPLY_FILE_NAME }],
    });
    await recordResult(interaction, deps, celebrityName(best.name), best.similarity);
  } catch (err) {
    await editing;
    await refuse(interaction, reportInternalError(deps.log, err, context, t)).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}
