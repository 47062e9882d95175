import { ApplicationCommandType, ContextMenuCommandBuilder, type MessageContextMenuCommandInteraction } from 'discord.js';
import type { DiscordBotDeps } from '../deps.ts';
import { localizations, tFor } from '../language.ts';
import { judgeAttachment, pickEmbedMedia, pickMessageAttachment } from '../media.ts';
import { refuseAttachment, requestLookalike } from '../photoRequest.ts';
import { refuse } from '../respond.ts';
import { requestVideoLookalike } from '../videoRequest.ts';
import { discordReplyText } from '../texts.ts';
import { BOTH_INSTALLS, EVERYWHERE } from './contexts.ts';

// Apps → "Find look-alike" on any message with a picture, a video or a GIF: attached, or only linked
// (the link's embed). Discord hands the bot the message with the interaction, so no message-content
// intent is needed. Works in servers and, for users who installed the app, in DMs.

export const data = new ContextMenuCommandBuilder()
  .setName('Find look-alike')
  .setNameLocalizations(localizations('discordCommands.find.name'))
  .setType(ApplicationCommandType.Message)
  .setContexts(...EVERYWHERE)
  .setIntegrationTypes(...BOTH_INSTALLS);

export async function execute(interaction: MessageContextMenuCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const t = tFor(interaction);
  const message = interaction.targetMessage;
  const attachment = pickMessageAttachment(message.attachments.values());
  if (attachment) {
    const verdict = judgeAttachment(attachment, deps.maxFileBytes);
    if (verdict.kind === 'video' && deps.engine.matchVideo) return requestVideoLookalike(interaction, verdict.source, deps, { subject: { kind: 'this_face' } });
    if (verdict.kind !== 'image') {
      await refuseAttachment(interaction, verdict, deps);
      return;
    }
    return requestLookalike({ interaction, source: verdict.source, subject: { kind: 'this_face' } }, deps);
  }
  const linked = pickEmbedMedia(message.embeds);
  if (linked?.kind === 'image') return requestLookalike({ interaction, source: { kind: 'embed', url: linked.url }, subject: { kind: 'this_face' } }, deps);
  if (linked?.kind === 'video') {
    if (!deps.engine.matchVideo) return refuse(interaction, discordReplyText(t, 'video_not_supported'));
    return requestVideoLookalike(interaction, { url: linked.url }, deps, { subject: { kind: 'this_face' } });
  }
  await refuse(interaction, discordReplyText(t, 'no_image_in_message'));
}
