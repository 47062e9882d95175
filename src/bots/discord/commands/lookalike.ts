import { GuildMember, InteractionContextType, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { DiscordBotDeps } from '../deps.ts';
import { avatarSource, judgeAttachment } from '../media.ts';
import { refuseAttachment, requestLookalike } from '../photoRequest.ts';
import { refuse } from '../respond.ts';
import { requestVideoLookalike } from '../videoRequest.ts';
import { discordReplyText } from '../texts.ts';

// /lookalike image:<photo> matches a photo; /lookalike user:<member> that member's profile picture;
// /lookalike alone, your own. A photo wins when both are given.

export const data = new SlashCommandBuilder()
  .setName('lookalike')
  .setDescription('Which celebrity do you look like? Give a photo, pick a member, or use your own avatar')
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo (JPEG, PNG, WebP, AVIF or TIFF), a video or a GIF, with a face'))
  .addUserOption((o) => o.setName('user').setDescription("Use this member's profile picture"))
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM);

export async function execute(interaction: ChatInputCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const attachment = interaction.options.getAttachment('image');
  if (attachment) {
    const verdict = judgeAttachment(attachment, deps.maxFileBytes);
    if (verdict.kind === 'video' && deps.engine.matchVideo) return requestVideoLookalike(interaction, verdict.source, deps);
    if (verdict.kind !== 'image') {
      await refuseAttachment(interaction, verdict, deps);
      return;
    }
    return requestLookalike({ interaction, source: verdict.source, subject: 'You' }, deps);
  }

  const picked = interaction.options.getUser('user');
  const user = picked ?? interaction.user;
  const member = picked ? interaction.options.getMember('user') : interaction.member;
  const guildMember = member instanceof GuildMember ? member : null;
  const self = user.id === interaction.user.id;
  const name = guildMember?.displayName ?? user.displayName;
  const source = avatarSource(user, guildMember);
  if (!source) {
    await refuse(interaction, discordReplyText('no_avatar', { who: self ? 'You' : name }));
    return;
  }
  return requestLookalike({ interaction, source, subject: self ? 'You' : name }, deps);
}
