import { TelegramError, type Telegram } from 'telegraf';
import { fail, type Result } from '../../core/result.ts';
import { openLocalFile, openUrl, readCapped, type DownloadLimit } from '../shared/download.ts';

// Which file of a message is the picture to match, and fetching it from the Bot API.

/** The fields of a message that can carry a picture (Message and its reply_to_message both have them). */
export interface MediaFields {
  photo?: { file_id: string; width: number; height: number; file_size?: number }[];
  document?: { file_id: string; file_name?: string; mime_type?: string; file_size?: number };
}

export type PickedMedia =
  | { kind: 'image'; fileId: string; /** As the message declares it; absent for some old messages. */ size?: number }
  | { kind: 'unsupported' };

// What the decoder reads (decode.ts); a HEIC is not worth downloading.
const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif|avif|tiff?)$/i;

/** The largest size of a photo, or an image sent as a file; undefined when the message has neither. */
export function pickMedia(message: MediaFields): PickedMedia | undefined {
  if (message.photo && message.photo.length > 0) {
    // Telegram lists sizes smallest first; the pixel count decides, not the order.
    const largest = message.photo.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
    return { kind: 'image', fileId: largest.file_id, ...(largest.file_size !== undefined ? { size: largest.file_size } : {}) };
  }
  const doc = message.document;
  if (!doc) return undefined;
  const mime = (doc.mime_type ?? '').toLowerCase();
  // SVG is a drawing program, not a photo. An unlabelled file is judged by its name.
  const isImage = mime.startsWith('image/') ? mime !== 'image/svg+xml' : (mime === '' || mime === 'application/octet-stream') && IMAGE_EXTENSIONS.test(doc.file_name ?? '');
  if (!isImage) return { kind: 'unsupported' };
  return { kind: 'image', fileId: doc.file_id, ...(doc.file_size !== undefined ? { size: doc.file_size } : {}) };
}

export function hasMedia(message: object): message is MediaFields {
  return 'photo' in message || 'document' in message;
}

/** The failure message when the Bot API server, not this bot's own limit, refused a file as too large. */
export const BOT_API_REFUSED = 'The Bot API refused to hand out a file this large.';

/** The limit to name in a "too large" reply: the bot's own, unless it was the server's (whose limit is not known). */
export function limitToName(failureMessage: string, ownLimit: number, serverLimit: number | null): number | null {
  return failureMessage === BOT_API_REFUSED ? serverLimit : ownLimit;
}

/**
 * getFile, then the file's bytes as they arrive. The Bot API refuses files over its limit in getFile
 * ("file is too big"); a self-hosted server in --local mode answers with an absolute path on its own disk
 * instead of a URL. Either way nothing past `maxBytes` is read (see shared/download.ts).
 */
export async function openFile(telegram: Telegram, fileId: string, opts: DownloadLimit): Promise<Result<AsyncIterable<Uint8Array>>> {
  let link: URL;
  try {
    link = await telegram.getFileLink(fileId);
  } catch (err) {
    if (err instanceof TelegramError && err.code === 400 && /file is too big/i.test(err.description)) {
      return fail('file_too_large', BOT_API_REFUSED);
    }
    throw err;
  }
  // telegraf builds file://<api host>/<path>; only the path is ours to read.
  if (link.protocol === 'file:') return openLocalFile(decodeURIComponent(link.pathname), opts);
  return openUrl(link, opts);
}

/** The whole file, at most `maxBytes`. */
export async function downloadFile(telegram: Telegram, fileId: string, opts: DownloadLimit): Promise<Result<Buffer>> {
  const stream = await openFile(telegram, fileId, opts);
  if (!stream.ok) return stream;
  return readCapped(stream.value, opts.maxBytes);
}
