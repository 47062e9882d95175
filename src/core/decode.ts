import { readFile, stat } from 'node:fs/promises';
import { sharp } from './runtime/sharp.ts';
import { fail, ok, type Result } from './result.ts';
import type { RgbImage } from './types.ts';

// Untrusted bytes from a chat become packed 8-bit RGB, upright, or a typed refusal. Every size check
// happens before pixels are decoded: the byte limit before sharp sees the buffer, the pixel limit on
// the header's dimensions, so a decompression bomb costs a header read and nothing more.

export interface DecodeLimits {
  /** Largest accepted file, in bytes. */
  maxBytes: number;
  /** Largest accepted width x height, read from the header before decoding. */
  maxPixels: number;
}

/** 25 MB: above what Telegram or Discord deliver as a photo, below what could hurt the process. */
export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;
/** 40 megapixels: a 48 MP phone sensor bins to 12 MP; 40 MP of RGB is 120 MB decoded. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: DEFAULT_MAX_BYTES,
  maxPixels: DEFAULT_MAX_PIXELS,
});

/** Transparent pixels become mid grey: neither a white nor a black frame that a detector might read as an edge. */
export const ALPHA_BACKGROUND = Object.freeze({ r: 128, g: 128, b: 128 });

// Formats a person sends as a photo, as sharp names them (AVIF is 'heif' there). sharp's libvips also
// reads SVG (a document that renders to any size, parsed by librsvg) and libvips' own files; those are
// refused, and untrusted bytes reach sharp only when their first bytes say they are one of these
// (sniffImageFormat), so that no other parser ever sees them. runtime/sharp.ts blocks the other loaders.
export const PHOTO_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'heif', 'tiff']);

/** The accepted formats by the names a person knows them by (the bots list them in the user's language). */
export const ACCEPTED_FORMAT_NAMES: readonly string[] = Object.freeze(['JPEG', 'PNG', 'WebP', 'GIF', 'AVIF', 'TIFF']);

/** The accepted formats as a person reads them, for every message that names them. */
export const ACCEPTED_FORMATS_TEXT = `${ACCEPTED_FORMAT_NAMES.slice(0, -1).join(', ')} or ${ACCEPTED_FORMAT_NAMES.at(-1)}`;

export type SniffedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/** The photo format the file's first bytes announce, or null for anything else (text, SVG, PDF, video, HEIC...). */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat | null {
  if (bytes.length < 12) return null;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  const tiff = ascii(bytes, 0, 4);
  if (tiff === 'II*\0' || tiff === 'MM\0*' || tiff === 'II+\0' || tiff === 'MM\0+') return 'tiff';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    // ISO BMFF: the major brand, then compatible brands to the end of the ftyp box. sharp's libheif
    // decodes AV1 (AVIF), not the HEVC of HEIC photos.
    const size = Math.min(bytes.length, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0));
    for (let at = 8; at + 4 <= size; at += 4) {
      if (at === 12) continue; // minor version
      const brand = ascii(bytes, at, at + 4);
      if (brand === 'avif' || brand === 'avis') return 'avif';
    }
  }
  return null;
}

/**
 * Width and height from the first bytes of a JPEG (its frame header) or a PNG (IHDR), or null for
 * other formats and headers that cannot be read that way (libvips then reads them).
 */
export function headerSize(bytes: Uint8Array, format: SniffedFormat): { width: number; height: number } | null {
  if (format === 'jpeg') return jpegSize(bytes);
  if (format === 'png' && bytes.length >= 24 && ascii(bytes, 12, 16) === 'IHDR') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  return null;
}

/** Width and height from a baseline or progressive JPEG's frame header, or null. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]! };
    }
    at += 2 + length;
  }
  return null;
}

// 'error' refuses truncated or broken pixel data (sharp would otherwise pad a cut-off JPEG with grey)
// but tolerates the harmless libjpeg warnings ("extraneous bytes before marker") that some cameras write.
const FAIL_ON = 'error' as const;

function formatMegabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// A limit left undefined (an option nobody set) means the default, never "no limit".
function resolveLimits(limits: Partial<DecodeLimits> = {}): DecodeLimits {
  return {
    maxBytes: limits.maxBytes ?? DEFAULT_DECODE_LIMITS.maxBytes,
    maxPixels: limits.maxPixels ?? DEFAULT_DECODE_LIMITS.maxPixels,
  };
}

export async function decodeImage(bytes: Uint8Array, limits?: Partial<DecodeLimits>): Promise<Result<RgbImage>> {
  const { maxBytes, maxPixels } = resolveLimits(limits);
  if (bytes.byteLength === 0) return fail('empty_file', 'The file is empty (0 bytes).');
  if (bytes.byteLength > maxBytes) {
    return fail(
      'file_too_large',
      `The file is ${formatMegabytes(bytes.byteLength)}; the limit is ${formatMegabytes(maxBytes)}.`,
    );
  }

  if (!sniffImageFormat(bytes)) {
    return fail('not_an_image', `This file is not a photo that can be read (${ACCEPTED_FORMATS_TEXT}).`);
  }

  // The header alone: dimensions, no pixel data. JPEG and PNG give them in their first bytes (one
  // libvips call less per photo, about a millisecond); other formats ask libvips.
  let header = headerSize(bytes, sniffImageFormat(bytes)!);
  if (!header) {
    let meta;
    try {
      meta = await sharp(bytes, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
    } catch (err) {
      return fromHeaderError(err);
    }
    if (!PHOTO_FORMATS.has(meta.format)) {
      return fail('not_an_image', `This is a ${meta.format.toUpperCase()} file, not a photo (${ACCEPTED_FORMATS_TEXT}).`);
    }
    // For an animated GIF or WebP, height is the first frame's (only one page is decoded).
    header = { width: meta.width, height: meta.pageHeight ?? meta.height };
  }
  const { width, height } = header;
  if (!(width > 0 && height > 0)) return fail('corrupt_image', 'The image header gives no size; the file is damaged.');
  if (width * height > maxPixels) {
    return fail(
      'too_many_pixels',
      `The image is ${width}x${height} (${(width * height / 1e6).toFixed(1)} megapixels); the limit is ${(maxPixels / 1e6).toFixed(1)} megapixels.`,
    );
  }

  try {
    const { data, info } = await sharp(bytes, { failOn: FAIL_ON, limitInputPixels: maxPixels, pages: 1, page: 0 })
      .rotate()
      // 16-bit, grey, CMYK and palette inputs all end as 8-bit sRGB; alpha is composited away.
      .flatten({ background: ALPHA_BACKGROUND })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      // toColourspace('srgb') guarantees three bands; anything else is a sharp change we must hear about.
      throw new Error(`decode produced ${info.channels} channels, expected 3`);
    }
    return ok({ data, width: info.width, height: info.height });
  } catch (err) {
    if (err instanceof Error && /decode produced/.test(err.message)) throw err;
    return fail('corrupt_image', `The image could not be decoded; the file looks damaged or cut off (${shortReason(err)}).`);
  }
}

/** Reads a file and decodes it; the byte limit is checked on the file's size before it is read. */
export async function readImageFile(path: string, limits?: Partial<DecodeLimits>): Promise<Result<RgbImage>> {
  const resolved = resolveLimits(limits);
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) return fail('not_an_image', `${path} is not a file.`);
    size = st.size;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return fail('missing_file', `No such file: ${path}`);
    throw err;
  }
  if (size > resolved.maxBytes) {
    return fail('file_too_large', `The file is ${formatMegabytes(size)}; the limit is ${formatMegabytes(resolved.maxBytes)}.`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    // Removed between stat and read.
    if (isErrno(err, 'ENOENT')) return fail('missing_file', `No such file: ${path}`);
    throw err;
  }
  return decodeImage(bytes, resolved);
}

function fromHeaderError(err: unknown): Result<never> {
  const reason = shortReason(err);
  // sharp's wording when no loader takes the bytes (the first bytes looked right, the rest did not).
  if (/unsupported image format/i.test(reason)) {
    return fail('not_an_image', `This file is not a photo that can be read (${ACCEPTED_FORMATS_TEXT}).`);
  }
  // A loader claimed the bytes (the magic number matched) but could not read the header.
  return fail('corrupt_image', `The image header could not be read; the file looks damaged (${reason}).`);
}

/** The first line of a library's error message, short enough for a reply. */
export function shortReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim().slice(0, 160);
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
