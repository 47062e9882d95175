import { SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { parseFaceChoice } from '../../shared/faceChoice.ts';
import type { DiscordBotDeps } from '../deps.ts';
import { englishOf, localizations, localized, tFor } from '../language.ts';
import { chosenAvatar, judgeAttachment } from '../media.ts';
import { refuseAttachment, requestLookalike } from '../photoRequest.ts';
import { refuse } from '../respond.ts';
import { requestVideoLookalike } from '../videoRequest.ts';
import { discordReplyText } from '../texts.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

// /lookalike image:<photo> matches a photo (or a video, a GIF); /lookalike user:<member> that member's
// profile picture; /lookalike alone, your own. A photo wins when both are given. gender: compares with
// women, men or everyone (and is remembered); face: picks one face of a group photo.

const GENDER_CHOICES = ['everyone', 'female', 'male'] as const;

export const data = localized(new SlashCommandBuilder().setName('lookalike'), 'discordCommands.lookalike')
  .addAttachmentOption((o) => localized(o.setName('image'), 'discordCommands.lookalike_image'))
  .addUserOption((o) => localized(o.setName('user'), 'discordCommands.lookalike_user'))
  .addStringOption((o) =>
    localized(o.setName('gender'), 'discordCommands.lookalike_gender').addChoices(
      ...GENDER_CHOICES.map((value) => ({
        name: englishOf(`discordCommands.gender_${value}.name`),
        name_localizations: localizations(`discordCommands.gender_${value}.name`),
        value,
      })),
    ),
  )
  .addStringOption((o) => localized(o.setName('face'), 'discordCommands.lookalike_face').setMaxLength(10))
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const t = tFor(interaction);
  const face = parseFaceChoice(interaction.options.getString('face'));
  if (face === null) return refuse(interaction, t('reply.bad_face_choice'));
  const genderOption = interaction.options.getString('gender');
  const attachment = interaction.options.getAttachment('image');
  if (attachment) {
    const verdict = judgeAttachment(attachment, deps.maxFileBytes);
    if (verdict.kind === 'video' && deps.engine.matchVideo) return requestVideoLookalike(interaction, verdict.source, deps, { genderOption });
    if (verdict.kind !== 'image') {
      await refuseAttachment(interaction, verdict, deps);
      return;
    }
    return requestLookalike({ interaction, source: verdict.source, subject: { kind: 'you' }, face, genderOption }, deps);
  }

  const { source, self, name } = chosenAvatar(interaction);
  if (!source) {
    await refuse(interaction, discordReplyText(t, 'no_avatar', self ? {} : { who: name }));
    return;
  }
  return requestLookalike({ interaction, source, subject: self ? { kind: 'you' } : { kind: 'member', name }, face, genderOption }, deps);
}
