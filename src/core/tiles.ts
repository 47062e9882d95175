import { tileSizes } from './compose.ts';
import { jpegSize } from './decode.ts';
import { cropForDisplay, displaySquare } from './faces.ts';
import { sharp } from './runtime/sharp.ts';
import type { Box, RgbImage } from './types.ts';

// Faces as the reply picture draws them, cut to the size of their tile so that composeReply copies
// them as they are: a gallery face from its thumbnail (the user's face is cut by faces.ts's cropForDisplay).

/**
 * Side of the gallery thumbnails an index stores: twice a runner-up's tile, so that libjpeg decodes
 * a runner-up straight to its size (shrink-on-load) and the best match is enlarged 1.5x at most.
 */
export const THUMBNAIL_SIZE = 2 * tileSizes().thumb;

/** A gallery face's thumbnail (JPEG) decoded to a `size` px square tile, in one pass. */
export async function thumbnailTile(jpeg: Uint8Array, size: number): Promise<RgbImage> {
  const { data, info } = await sharp(jpeg, { failOn: 'error' })
    .resize(size, size, { fit: 'cover' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * Several thumbnails as tiles of the given sizes, with as few libvips calls as possible (each one
 * costs about a millisecond before it does any work): every thumbnail twice its tile's side (the
 * runners-up of an index written at THUMBNAIL_SIZE) is decoded in one call and halved here; the
 * others are decoded and resized one by one. A thumbnail that cannot be decoded gives null.
 */
export async function thumbnailTiles(jpegs: readonly Uint8Array[], sizes: readonly number[]): Promise<(RgbImage | null)[]> {
  const out: (RgbImage | null)[] = jpegs.map(() => null);
  const halved: number[] = [];
  const single: number[] = [];
  jpegs.forEach((jpeg, i) => {
    const dims = jpegSize(jpeg);
    (dims && dims.width === 2 * sizes[i]! && dims.height === 2 * sizes[i]! ? halved : single).push(i);
  });
  const joined = async () => {
    if (halved.length < 2) {
      single.push(...halved);
      return;
    }
    const side = 2 * sizes[halved[0]!]!;
    if (!halved.every((i) => sizes[i] === side / 2)) {
      single.push(...halved);
      return;
    }
    const strip = await sharp(halved.map((i) => jpegs[i]!) as Buffer[], { join: { across: halved.length }, failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch(() => null);
    if (!strip || strip.info.width !== side * halved.length || strip.info.height !== side || strip.info.channels !== 3) {
      single.push(...halved);
      return;
    }
    halved.forEach((i, k) => (out[i] = halve(strip.data, strip.info.width, k * side, side)));
  };
  await joined();
  await Promise.all(single.map(async (i) => (out[i] = await thumbnailTile(jpegs[i]!, sizes[i]!).catch(() => null))));
  return out;
}

/** The side x side square at column x0 of a packed RGB strip, averaged over 2x2 blocks. */
function halve(strip: Buffer, stripWidth: number, x0: number, side: number): RgbImage {
  const half = side / 2;
  const data = Buffer.alloc(half * half * 3);
  const row = stripWidth * 3;
  for (let y = 0; y < half; y++) {
    const top = 2 * y * row + x0 * 3;
    let o = y * half * 3;
    for (let x = 0; x < half; x++, o += 3) {
      const a = top + 6 * x;
      const b = a + row;
      data[o] = (strip[a]! + strip[a + 3]! + strip[b]! + strip[b + 3]! + 2) >> 2;
      data[o + 1] = (strip[a + 1]! + strip[a + 4]! + strip[b + 1]! + strip[b + 4]! + 2) >> 2;
      data[o + 2] = (strip[a + 2]! + strip[a + 5]! + strip[b + 2]! + strip[b + 5]! + 2) >> 2;
    }
  }
  return { data, width: half, height: half };
}

/** The thumbnail an index stores for a face: its display square at THUMBNAIL_SIZE, as JPEG. */
export async function thumbnailJpeg(image: RgbImage, box: Box, size = THUMBNAIL_SIZE): Promise<Buffer> {
  const square = displaySquare(box, image.width, image.height);
  const raw = { raw: { width: image.width, height: image.height, channels: 3 as const } };
  if (square.x + square.width <= image.width && square.y + square.height <= image.height) {
    // Cut, resized and encoded in one libvips call.
    return sharp(image.data, raw)
      .extract({ left: square.x, top: square.y, width: square.width, height: square.height })
      .resize(size, size, { fit: 'fill' })
      .jpeg({ quality: 85 })
      .toBuffer();
  }
  const tile = await cropForDisplay(image, box, size);
  return sharp(tile.data, { raw: { width: tile.width, height: tile.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}
