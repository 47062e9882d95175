import { tileSizes } from './compose.ts';
import { jpegSize } from './decode.ts';
import { cropForDisplay, displaySquare } from './faces.ts';
import { decodeJpegRgba, packRgb, type RgbaPixels } from './runtime/jpegWasm.ts';
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
 * Several thumbnails as tiles of the given sizes. Each is decoded by libjpeg compiled to WebAssembly
 * (jpegWasm.ts: the same pixels as libvips', 0.6 ms a thumbnail where a sharp call cost 1.2-1.5; the
 * five of a reply took 5.6-6.1 ms in place against 8.0-8.8, interleaved) and the tile is cut here:
 * halved when it is half the thumbnail's side (the runners-up of an index written at THUMBNAIL_SIZE),
 * enlarged by a cubic filter when it is larger (the best match; libvips took 5 ms for that). Other
 * sizes, and a thumbnail the WebAssembly decoder refuses, go to libvips. A thumbnail that cannot be
 * decoded gives null.
 */
export async function thumbnailTiles(jpegs: readonly Uint8Array[], sizes: readonly number[]): Promise<(RgbImage | null)[]> {
  return Promise.all(
    jpegs.map(async (jpeg, i) => {
      const size = sizes[i]!;
      const dims = jpegSize(jpeg);
      const side = dims && dims.width === dims.height ? dims.width : 0;
      if (!(side > 0 && (2 * size === side || size >= side))) return thumbnailTile(jpeg, size).catch(() => null);
      const decoded: Pixels | null = await decodeJpegRgba(jpeg).catch(() => decodeWithSharp(jpeg));
      if (!decoded || decoded.width !== side || decoded.height !== side) return null;
      if (size === side) return asRgb(decoded);
      return 2 * size === side ? halve(decoded, side) : enlarge(decoded, side, size);
    }),
  );
}

/** Decoded pixels: RGBA as the WebAssembly decoder gives them, or packed RGB from libvips. */
type Pixels = RgbaPixels | (RgbImage & { channels: 3 });

function asRgb(pixels: Pixels): RgbImage {
  return pixels.channels === 3 ? pixels : packRgb(pixels);
}

/** A thumbnail decoded by libvips: the fallback for one the WebAssembly decoder refuses. */
async function decodeWithSharp(jpeg: Uint8Array): Promise<Pixels | null> {
  const decoded = await sharp(jpeg, { failOn: 'error' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch(() => null);
  if (!decoded || decoded.info.channels !== 3) return null;
  return { data: decoded.data, width: decoded.info.width, height: decoded.info.height, channels: 3 };
}

/** A side x side square averaged over 2x2 blocks, as packed RGB. */
function halve({ data: pixels, channels: n }: Pixels, side: number): RgbImage {
  const half = side / 2;
  const data = Buffer.alloc(half * half * 3);
  const row = side * n;
  for (let y = 0; y < half; y++) {
    const top = 2 * y * row;
    let o = y * half * 3;
    for (let x = 0; x < half; x++, o += 3) {
      const a = top + 2 * n * x;
      const b = a + row;
      data[o] = (pixels[a]! + pixels[a + n]! + pixels[b]! + pixels[b + n]! + 2) >> 2;
      data[o + 1] = (pixels[a + 1]! + pixels[a + n + 1]! + pixels[b + 1]! + pixels[b + n + 1]! + 2) >> 2;
      data[o + 2] = (pixels[a + 2]! + pixels[a + n + 2]! + pixels[b + 2]! + pixels[b + n + 2]! + 2) >> 2;
    }
  }
  return { data, width: half, height: half };
}

/** Catmull-Rom weights for a sample `t` (0..1) past the second of four neighbours. */
function cubicWeights(t: number): [number, number, number, number] {
  const t2 = t * t;
  const t3 = t2 * t;
  return [(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2, (t3 - t2) / 2];
}

/**
 * A side x side square enlarged to size x size by a separable Catmull-Rom filter (pixel centres
 * aligned, edges repeated), as packed RGB.
 */
function enlarge({ data: pixels, channels: n }: Pixels, side: number, size: number): RgbImage {
  // Per output column (and row): its four source neighbours (edges repeated) and their weights.
  const taps = new Int32Array(4 * size);
  const weights = new Float32Array(4 * size);
  for (let o = 0; o < size; o++) {
    const centre = ((o + 0.5) * side) / size - 0.5;
    const base = Math.floor(centre);
    const [w0, w1, w2, w3] = cubicWeights(centre - base);
    weights[4 * o] = w0;
    weights[4 * o + 1] = w1;
    weights[4 * o + 2] = w2;
    weights[4 * o + 3] = w3;
    for (let k = 0; k < 4; k++) taps[4 * o + k] = Math.min(side - 1, Math.max(0, base - 1 + k));
  }
  // Rows first: side rows of size pixels, as floats.
  const across = new Float32Array(side * size * 3);
  const row = side * n;
  for (let y = 0; y < side; y++) {
    const src = y * row;
    let o = y * size * 3;
    for (let x = 0, t = 0; x < size; x++, t += 4, o += 3) {
      const a = src + n * taps[t]!;
      const b = src + n * taps[t + 1]!;
      const c = src + n * taps[t + 2]!;
      const d = src + n * taps[t + 3]!;
      const w0 = weights[t]!;
      const w1 = weights[t + 1]!;
      const w2 = weights[t + 2]!;
      const w3 = weights[t + 3]!;
      across[o] = w0 * pixels[a]! + w1 * pixels[b]! + w2 * pixels[c]! + w3 * pixels[d]!;
      across[o + 1] = w0 * pixels[a + 1]! + w1 * pixels[b + 1]! + w2 * pixels[c + 1]! + w3 * pixels[d + 1]!;
      across[o + 2] = w0 * pixels[a + 2]! + w1 * pixels[b + 2]! + w2 * pixels[c + 2]! + w3 * pixels[d + 2]!;
    }
  }
  const data = Buffer.allocUnsafe(size * size * 3);
  const line = size * 3;
  for (let y = 0, t = 0; y < size; y++, t += 4) {
    const r0 = taps[t]! * line;
    const r1 = taps[t + 1]! * line;
    const r2 = taps[t + 2]! * line;
    const r3 = taps[t + 3]! * line;
    const w0 = weights[t]!;
    const w1 = weights[t + 1]!;
    const w2 = weights[t + 2]!;
    const w3 = weights[t + 3]!;
    const o = y * line;
    for (let i = 0; i < line; i++) {
      const v = w0 * across[r0 + i]! + w1 * across[r1 + i]! + w2 * across[r2 + i]! + w3 * across[r3 + i]!;
      // Buffer stores wrap, so clamp; +0.5 and truncation round (v is positive here).
      data[o + i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    }
  }
  return { data, width: size, height: size };
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
