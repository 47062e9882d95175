import { SlashCommandBuilder, type ChatInputCommandInteraction, type CommandInteraction } from 'discord.js';
import type { FaceChoice, MorphReport } from '../../../core/engineTypes.ts';
import type { Result } from '../../../core/result.ts';
import { parseFaceChoice } from '../../shared/faceChoice.ts';
import { celebrityName, percent } from '../../shared/format.ts';
import type { Translate } from '../../shared/i18n.ts';
import type { Admitted } from '../../shared/limits.ts';
import { isOperatorFailure, reportInternalError } from '../../shared/replies.ts';
import { admitAndDefer } from '../admit.ts';
import type { DiscordBotDeps } from '../deps.ts';
import { genderFor, localized, tFor } from '../language.ts';
import { chosenAvatar, judgeAttachment, type PhotoSource } from '../media.ts';
import { download, refuseAttachment } from '../photoRequest.ts';
import { refuse } from '../respond.ts';
import { discordReplyText } from '../texts.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

// /morph image:<photo> (or user:, or your own avatar): a GIF of the face turning into its best match
// and back. A GIF, because Discord plays GIF attachments inline and on loop, where an MP4 waits for a click.
// With a queue (LOOKALIKE_REDIS_URL) the morph runs on a worker, like a look-alike: the front end has no engine.

export const MORPH_FILE_NAME = 'morph.gif';

export const data = localized(new SlashCommandBuilder().setName('morph'), 'discordCommands.morph')
  .addAttachmentOption((o) => localized(o.setName('image'), 'discordCommands.morph_image'))
  .addUserOption((o) => localized(o.setName('user'), 'discordCommands.morph_user'))
  .addStringOption((o) => localized(o.setName('face'), 'discordCommands.lookalike_face').setMaxLength(10))
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const t = tFor(interaction);
  const face = parseFaceChoice(interaction.options.getString('face'));
  if (face === null) return refuse(interaction, t('reply.bad_face_choice'));
  if (!deps.engine.morph) return refuse(interaction, discordReplyText(t, 'no_index'));
  let source: PhotoSource | null;
  const attachment = interaction.options.getAttachment('image');
  if (attachment) {
    const verdict = judgeAttachment(attachment, deps.maxFileBytes);
    if (verdict.kind !== 'image') {
      await refuseAttachment(interaction, verdict, deps);
      return;
    }
    source = verdict.source;
  } else {
    const avatar = chosenAvatar(interaction);
    source = avatar.source;
    if (!source) return refuse(interaction, discordReplyText(t, 'no_avatar', avatar.self ? {} : { who: avatar.name }));
  }
  const from = source;
  return admitAndDefer(interaction, deps, (admission) => answerMorph(interaction, from, face, admission, deps, t), { kind: 'morph', source, ...(face !== undefined ? { face } : {}) });
}

/** Downloads, morphs and answers: in the bot's process, or on a worker (worker.ts). */
export async function answerMorph(
  interaction: CommandInteraction,
  source: PhotoSource,
  face: FaceChoice | undefined,
  admission: Admitted,
  deps: DiscordBotDeps,
  t: Translate,
): Promise<void> {
  const context = { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id, morph: true };
  try {
    const gender = await genderFor(deps, interaction.user.id, null);
    const outcome = await admission.run(async (signal): Promise<Result<MorphReport> | 'download_failed'> => {
      const bytes = await download(source, deps, signal);
      if (bytes === 'download_failed' || !bytes.ok) return bytes;
      return deps.engine.morph!(bytes.value, { format: 'gif', maxBytes: deps.maxFileBytes, signal, ...(gender ? { gender } : {}), ...(face !== undefined ? { face } : {}) });
    });
    if (outcome.status === 'timeout') {
      deps.log.warn(context, 'morph request timed out');
      return await refuse(interaction, discordReplyText(t, 'timeout'));
    }
    const result = outcome.value;
    if (result === 'download_failed') return await refuse(interaction, discordReplyText(t, 'download_failed'));
    if (!result.ok) {
      if (isOperatorFailure(result.error.code)) deps.log.error({ ...context, failure: result.error }, 'engine cannot answer');
      return await refuse(interaction, discordReplyText(t, result.error.code, { maxFileBytes: deps.maxFileBytes, faces: result.error.faces }));
    }
    const report = result.value;
    await interaction.editReply({
      content: t('morph.caption', { name: celebrityName(report.match.name), percent: percent(report.match.similarity) }),
      files: [{ attachment: report.animation, name: MORPH_FILE_NAME }],
      allowedMentions: { parse: [] },
    });
  } catch (err) {
    await refuse(interaction, reportInternalError(deps.log, err, context, t)).catch((sendErr: unknown) => deps.log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
  }
}
