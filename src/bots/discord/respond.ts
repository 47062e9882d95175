import { EmbedBuilder, GuildMember, MessageFlags, type CommandInteraction } from 'discord.js';
import { bestMatch, celebrityName, matchCaption, percent, photoAge, type CaptionReport } from '../shared/format.ts';
import type { Translate } from '../shared/i18n.ts';
import { EMBED_DESCRIPTION_LIMIT, EMBED_FIELD_LIMIT } from './deps.ts';
import { discordMarkup } from './markup.ts';
import { errorMessage } from './texts.ts';

// How the bot answers an interaction: refusals privately (ephemeral), pictures publicly.

export const REPLY_FILE_NAME = 'lookalike.jpg';

/**
 * An ephemeral refusal. Before any answer it is the reply itself; after a (public) deferral it is an
 * ephemeral follow-up, and the "thinking…" placeholder is removed so the channel is not left with it.
 */
export async function refuse(interaction: CommandInteraction, text: string): Promise<void> {
  const content = errorMessage(text);
  if (!interaction.deferred && !interaction.replied) {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
  if (interaction.deferred && !interaction.ephemeral) await interaction.deleteReply().catch(() => {});
}

/** A private answer that is not an error (hide, show, forget). */
export async function replyPrivately(interaction: CommandInteraction, content: string): Promise<void> {
  await interaction.reply({ content, flags: MessageFlags.Ephemeral });
}

/** The name a leaderboard shows: the server nickname, else the display name, else the username. */
export function displayNameOf(interaction: CommandInteraction): string {
  const member = interaction.member;
  const name =
    member instanceof GuildMember
      ? member.displayName
      : (member?.nick ?? interaction.user.globalName ?? interaction.user.username);
  return (name || 'Someone').slice(0, 64);
}

/** Who is in the picture, for the embed's title: the asker, a named member, or a face in someone's message. */
export type Subject = { kind: 'you' } | { kind: 'member'; name: string } | { kind: 'this_face' };

/**
 * The embed around the reply picture: who looks like whom, how similar, the year and age of the
 * celebrity's photo, and the runners-up. With several faces the description lists each, numbered from
 * the left like the rows of the picture.
 */
export function matchEmbed(report: CaptionReport, opts: { subject: Subject; runnersUp: number; t: Translate; pickHint?: string }): EmbedBuilder {
  const { t } = opts;
  const best = bestMatch(report)!;
  const face = report.faces.find((f) => f.matches[0] === best)!;
  const name = celebrityName(best.name);
  const title =
    opts.subject.kind === 'you'
      ? t('discord.title_you', { name })
      : opts.subject.kind === 'member'
        ? t('discord.title_member', { who: opts.subject.name, name })
        : t('discord.title_this_face', { name });
  const embed = new EmbedBuilder()
    .setTitle(title.slice(0, 256))
    .setColor(0x5865f2)
    .addFields(
      { name: t('discord.top_match'), value: discordMarkup.escape(name).slice(0, EMBED_FIELD_LIMIT), inline: true },
      { name: t('discord.similarity'), value: percent(best.similarity), inline: true },
    )
    .setImage(`attachment://${REPLY_FILE_NAME}`);
  const when = photoAge(best, t);
  if (when) embed.addFields({ name: t('discord.photo'), value: when, inline: true });
  const rest = face.matches.slice(1, 1 + opts.runnersUp);
  if (rest.length > 0) {
    const lines = rest.map((m) => `${discordMarkup.escape(celebrityName(m.name))} ${percent(m.similarity)}`).join('\n');
    embed.addFields({ name: t('discord.runners_up'), value: lines.slice(0, EMBED_FIELD_LIMIT) });
  }
  const faces = report.faces.filter((f) => f.matches.length > 0);
  if (faces.length > 1 || (report.facesFound ?? faces.length) > faces.length) {
    embed.setDescription(
      matchCaption(report, { markup: discordMarkup, t, maxLength: EMBED_DESCRIPTION_LIMIT, runnersUp: Math.min(opts.runnersUp, 2), ...(opts.pickHint ? { pickHint: opts.pickHint } : {}) }),
    );
  }
  return embed;
}
