import { GuildMember, type Attachment, type ChatInputCommandInteraction, type ImageURLOptions, type User } from 'discord.js';

// Which picture a command points at, and whether it is worth downloading. Everything here is decided
// from what the interaction already carries (content type, size, avatar hash): no request is made.

export type PhotoSource =
  | { kind: 'attachment'; url: string; size: number }
  | { kind: 'avatar'; url: string }
  /** A picture a message shows through a link embed, by Discord's media proxy; its size is unknown until downloaded. */
  | { kind: 'embed'; url: string };

/** A video to stream: an attachment (size known) or an embed's video (size known only as it arrives). */
export interface VideoSource {
  url: string;
  size?: number;
}

export type AttachmentVerdict =
  | { kind: 'image'; source: PhotoSource }
  | { kind: 'video'; source: PhotoSource & { kind: 'attachment' } }
  | { kind: 'unsupported' }
  | { kind: 'too_large' }
  | { kind: 'empty' };

// What the decoder reads (decode.ts): a BMP or a HEIC is not worth downloading.
const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|avif|tiff?)$/i;
const MOVING_EXTENSIONS = /\.(gif|mp4|m4v|mov|webm|mkv|avi|apng)$/i;

/** Sorts an attachment into image, video/GIF, or something else, by its declared type. */
export function judgeAttachment(attachment: Pick<Attachment, 'contentType' | 'name' | 'size' | 'url'>, maxBytes: number): AttachmentVerdict {
  const type = (attachment.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const name = attachment.name ?? '';
  const moving = type.startsWith('video/') || type === 'image/gif' || type === 'image/apng' || (type === '' && MOVING_EXTENSIONS.test(name));
  if (moving) {
    if (attachment.size === 0) return { kind: 'empty' };
    if (attachment.size > maxBytes) return { kind: 'too_large' };
    return { kind: 'video', source: { kind: 'attachment', url: attachment.url, size: attachment.size } };
  }
  // SVG is a drawing program, not a photo. An unlabelled file is judged by its name.
  const image = type.startsWith('image/') ? type !== 'image/svg+xml' : (type === '' || type === 'application/octet-stream') && IMAGE_EXTENSIONS.test(name);
  if (!image) return { kind: 'unsupported' };
  if (attachment.size === 0) return { kind: 'empty' };
  if (attachment.size > maxBytes) return { kind: 'too_large' };
  return { kind: 'image', source: { kind: 'attachment', url: attachment.url, size: attachment.size } };
}

/**
 * A picture or a video that a message shows only through a link embed (a pasted image link, a Tenor
 * GIF). Only Discord's media proxy is fetched (proxyURL), never the site the link names.
 */
export interface EmbedMedia {
  kind: 'image' | 'video';
  url: string;
}

interface EmbedLike {
  data: { type?: string };
  image: { proxyURL?: string } | null;
  thumbnail: { proxyURL?: string } | null;
  video: { proxyURL?: string } | null;
}

export function pickEmbedMedia(embeds: readonly EmbedLike[]): EmbedMedia | undefined {
  for (const embed of embeds) {
    const type = embed.data.type;
    // An animated GIF link arrives as a 'gifv' embed whose video is Discord's MP4 of it.
    if ((type === 'gifv' || type === 'video') && embed.video?.proxyURL) return { kind: 'video', url: embed.video.proxyURL };
    const still = embed.image?.proxyURL ?? (type === 'image' ? embed.thumbnail?.proxyURL : undefined);
    if (still) return { kind: 'image', url: still };
  }
  return undefined;
}

/** The first attachment of a message that a user would call a picture (or, failing that, the first one). */
export function pickMessageAttachment(attachments: Iterable<Attachment>): Attachment | undefined {
  const all = [...attachments];
  return all.find((a) => (a.contentType ?? '').startsWith('image/') || IMAGE_EXTENSIONS.test(a.name)) ?? all[0];
}

// Plenty for a face: the detector works on a 480 px copy anyway.
const AVATAR_SIZE: ImageURLOptions['size'] = 512;

/**
 * A member's picture: their server avatar if they set one, else their account avatar. Animated avatars
 * come as a still PNG. Null when they only have Discord's default avatar, which has no face.
 */
export function avatarSource(user: User, member?: GuildMember | null): PhotoSource | null {
  const options = { extension: 'png' as const, forceStatic: true, size: AVATAR_SIZE };
  const url = member?.avatarURL(options) ?? user.avatarURL(options);
  return url ? { kind: 'avatar', url } : null;
}

/**
 * The profile picture a command's `user:` option names, or the caller's own without it: its source (null
 * without one), whether it is the caller's, and the name the server shows for its owner.
 */
export function chosenAvatar(interaction: ChatInputCommandInteraction): { source: PhotoSource | null; self: boolean; name: string } {
  const picked = interaction.options.getUser('user');
  const user = picked ?? interaction.user;
  const member = picked ? interaction.options.getMember('user') : interaction.member;
  const guildMember = member instanceof GuildMember ? member : null;
  return { source: avatarSource(user, guildMember), self: user.id === interaction.user.id, name: guildMember?.displayName ?? user.displayName };
}
