import { ALPHA_BACKGROUND, DEFAULT_MAX_PIXELS, headerSize, PHOTO_FORMATS, shortReason, sniffImageFormat } from '../../core/decode.ts';
import { fail, ok, type Result } from '../../core/result.ts';
import { sharp } from '../../core/runtime/sharp.ts';
import type { RgbImage } from '../../core/types.ts';

// Decoding for offline index builds, where the files are a dataset's and only the face matters:
// the image comes out no larger than `maxSide` on its long side. JPEG is then decoded at 1/2, 1/4 or
// 1/8 scale straight from the DCT (libjpeg's shrink-on-load), which is most of the saving on large
// photos; the detector scans a 480 px copy and the model takes 150 px, so nothing they use is lost.
// The checks are core/decode.ts's: the first bytes, then the header's size, photo formats only,
// truncated data refused.

export interface BoundedImage {
  image: RgbImage;
  /** Original (upright) pixels per decoded pixel: 1 when the image was small enough already. */
  scale: number;
  /** Upright size of the file's image before any shrinking. */
  original: { width: number; height: number };
}

export async function decodeBounded(bytes: Uint8Array, maxSide: number, maxPixels = DEFAULT_MAX_PIXELS): Promise<Result<BoundedImage>> {
  if (bytes.byteLength === 0) return fail('empty_file', 'The file is empty (0 bytes).');
  const format = sniffImageFormat(bytes);
  if (!format) return fail('not_an_image', 'Not an image that can be read.');
  // JPEG and PNG give their size in the first bytes: one libvips call less per crop (each costs
  // about a millisecond before it does anything). Other formats ask libvips for the header.
  let header = headerSize(bytes, format);
  if (!header) {
    let meta;
    try {
      meta = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
    } catch (err) {
      const reason = shortReason(err);
      if (/unsupported image format/i.test(reason)) return fail('not_an_image', 'Not an image that can be read.');
      return fail('corrupt_image', `The image header could not be read (${reason}).`);
    }
    if (!PHOTO_FORMATS.has(meta.format)) return fail('not_an_image', `A ${meta.format.toUpperCase()} file, not a photo.`);
    const height = meta.pageHeight && meta.pageHeight < meta.height ? meta.pageHeight : meta.height;
    header = { width: meta.width, height };
  }
  const { width, height } = header;
  if (!(width > 0 && height > 0)) return fail('corrupt_image', 'The image header gives no size.');
  if (width * height > maxPixels) return fail('too_many_pixels', `The image is ${width}x${height}, above the pixel limit.`);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, pages: 1, page: 0 })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: ALPHA_BACKGROUND })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decode produced ${info.channels} channels, expected 3`);
    // The upright size: the header's, turned a quarter when the decoded image (upright) is.
    const turned = (width - height) * (info.width - info.height) < 0;
    const original = turned ? { width: height, height: width } : { width, height };
    const scale = Math.max(original.width, original.height) / Math.max(info.width, info.height);
    return ok({ image: { data, width: info.width, height: info.height }, scale, original });
  } catch (err) {
    if (err instanceof Error && /decode produced/.test(err.message)) throw err;
    return fail('corrupt_image', `The image could not be decoded (${shortReason(err)}).`);
  }
}
