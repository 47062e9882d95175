import type { CommandInteraction } from 'discord.js';
import type { Result } from '../../core/result.ts';
import { VIDEO_DEFAULTS } from '../../core/video/matchVideo.ts';
import type { VideoInput, VideoReport } from '../../core/video/types.ts';
import { DownloadError, openUrl } from '../shared/download.ts';
import { EditThrottle } from '../shared/editThrottle.ts';
import { bestMatch, celebrityName } from '../shared/format.ts';
import type { Admitted } from '../shared/limits.ts';
import { isOperatorFailure, reportInternalError } from '../shared/replies.ts';
import { doneText, progressText, WATCHING } from '../shared/videoReplies.ts';
import { admitAndDefer } from './admit.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { recordRefusal } from '../../metrics.ts';
import type { PhotoSource } from './media.ts';
import { recordResult } from './recordResult.ts';
import { matchEmbed, refuse, REPLY_FILE_NAME } from './respond.ts';
import { discordReplyText } from './texts.ts';

// A video or GIF attached to /lookalike, matched live: the deferred reply becomes "Watching..." and is
// edited with the best match so far (at most every EDIT_INTERVAL_MS per channel; discord.js waits out
// any 429 itself), then the reply picture comes as a follow-up.

export const MAX_VIDEO_SECONDS = 60;
export const MAX_VIDEO_BYTES = VIDEO_DEFAULTS.maxBytes;
export const EDIT_INTERVAL_MS = 1500;

/** Per channel: when the last progress edit went out. */
const edits = new EditThrottle<string>(EDIT_INTERVAL_MS);

export function requestVideoLookalike(interaction: CommandInteraction, source: PhotoSource & { kind: 'attachment' }, deps: DiscordBotDeps): Promise<void> {
  const maxBytes = Math.min(deps.maxFileBytes, MAX_VIDEO_BYTES);
  if (source.size > maxBytes) {
    recordRefusal(deps.log, PLATFORM, 'file_too_large', { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, video: true });
    return refuse(interaction, discordReplyText('file_too_large', { maxFileBytes: maxBytes }));
  }
  return admitAndDefer(interaction, deps, (admitted) => answer(interaction, source, maxBytes, admitted, deps), { kind: 'video', source, maxBytes });
}

/** Streams the video through the engine, editing the reply, then answers: in the bot's process, or on a worker (worker.ts). */
export async function answer(
  interaction: CommandInteraction,
  source: PhotoSource & { kind: 'attachment' },
  maxBytes: number,
  admission: Admitted,
  deps: DiscordBotDeps,
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
    await edit(WATCHING);
    const outcome = await admission.run(async (signal): Promise<Result<VideoReport> | 'download_failed'> => {
      let input: Result<VideoInput>;
      try {
        input = await openUrl(source.url, { maxBytes, signal });
      } catch (err) {
        if (err instanceof DownloadError) return 'download_failed';
        throw err;
      }
      if (!input.ok) return input;
      for await (const event of deps.engine.matchVideo!(input.value, { maxBytes, maxSeconds: MAX_VIDEO_SECONDS, top: deps.runnersUp + 1, signal })) {
        if (event.kind === 'result') return event.result;
        if (!editing && edits.due(channel)) {
          editing = edit(progressText(event.update)).finally(() => {
            editing = null;
          });
        }
      }
      throw new Error('video match ended without a result');
    });
    await editing;
    if (outcome.status === 'timeout') return await refuse(interaction, discordReplyText('timeout'));
    const result = outcome.value;
    if (result === 'download_failed') return await refuse(interaction, discordReplyText('download_failed'));
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      return await refuse(interaction, discordReplyText(result.error.code, { maxFileBytes: maxBytes }));
    }
    const report = result.value;
    const best = bestMatch(report);
    if (!report.composite || !best) return await refuse(interaction, discordReplyText('no_face'));
    await edit(doneText(report, best));
    await interaction.followUp({
      embeds: [matchEmbed(report, { subject: 'You', runnersUp: deps.runnersUp })],
      files: [{ attachment: report.composite, name: REPLY_FILE_NAME }],
    });
    await recordResult(interaction, deps, celebrityName(best.name), best.similarity);
  } catch (err) {
    await editing;
    await refuse(interaction, reportInternalError(deps.log, err, context)).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}
