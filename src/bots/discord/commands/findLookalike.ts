import { ApplicationCommandType, ContextMenuCommandBuilder, InteractionContextType, type MessageContextMenuCommandInteraction } from 'discord.js';
import type { DiscordBotDeps } from '../deps.ts';
import { judgeAttachment, pickMessageAttachment } from '../media.ts';
import { refuseAttachment, requestLookalike } from '../photoRequest.ts';
import { refuse } from '../respond.ts';
import { requestVideoLookalike } from '../videoRequest.ts';
import { discordReplyText } from '../texts.ts';

// Apps → "Find look-alike" on any message with a picture (or a video, or a GIF) attached. Discord hands the bot the message
// with the interaction, so no message-content intent is needed.

export const data = new ContextMenuCommandBuilder()
  .setName('Find look-alike')
  .setType(ApplicationCommandType.Message)
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM);

export async function execute(interaction: MessageContextMenuCommandInteraction, deps: DiscordBotDeps): Promise<void> {
  const attachment = pickMessageAttachment(interaction.targetMessage.attachments.values());
  if (!attachment) {
    await refuse(interaction, discordReplyText('no_image_in_message'));
    return;
  }
  const verdict = judgeAttachment(attachment, deps.maxFileBytes);
  if (verdict.kind === 'video' && deps.engine.matchVideo) return requestVideoLookalike(interaction, verdict.source, deps);
  if (verdict.kind !== 'image') {
    await refuseAttachment(interaction, verdict, deps);
    return;
  }
  return requestLookalike({ interaction, source: verdict.source, subject: 'This face' }, deps);
}
