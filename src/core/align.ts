import { sharp } from './runtime/sharp.ts';
import type { FaceKeypoints, Point, RgbImage } from './types.ts';

// Face alignment: the detected keypoints are mapped onto where a recognition model expects them
// (its template) by a similarity transform (rotation, uniform scale, shift) fitted by weighted
// least squares, and the chip is resampled through it. Rolled heads come out upright, and every face
// fills the chip the same way whatever the detector's box looked like.

/** Where a model expects a face's keypoints, as fractions of its square chip's side. */
export interface FaceTemplate {
  rightEye: Point;
  leftEye: Point;
  nose: Point;
  mouth: Point;
}

/**
 * The keypoints the fit uses, and how much each counts. Measured on faces/people (d' over all pairs):
 * eyes only 4.76, eyes and mouth 4.84, nose at half weight 4.88, all four alike 4.90.
 */
const FIT_POINTS = [
  ['rightEye', 1],
  ['leftEye', 1],
  ['nose', 1],
  ['mouth', 1],
] as const satisfies readonly (readonly [keyof FaceTemplate, number])[];

/** dst = [a -b; b a] * src + [tx, ty] */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** Scale factor of a similarity transform. */
export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

/**
 * The similarity transform that maps src onto dst with the least weighted squared error (the
 * closed form of Umeyama's method restricted to 2-D rotations, which cannot mirror).
 */
export function fitSimilarity(src: readonly Point[], dst: readonly Point[], weights: readonly number[] = src.map(() => 1)): Similarity {
  if (src.length !== dst.length || src.length < 2) throw new RangeError('fitSimilarity needs two or more point pairs');
  let w = 0;
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  src.forEach((p, i) => {
    const wi = weights[i]!;
    w += wi;
    sx += wi * p.x;
    sy += wi * p.y;
    dx += wi * dst[i]!.x;
    dy += wi * dst[i]!.y;
  });
  sx /= w;
  sy /= w;
  dx /= w;
  dy /= w;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  src.forEach((p, i) => {
    const wi = weights[i]!;
    const px = p.x - sx;
    const py = p.y - sy;
    const qx = dst[i]!.x - dx;
    const qy = dst[i]!.y - dy;
    dot += wi * (px * qx + py * qy);
    cross += wi * (px * qy - py * qx);
    norm += wi * (px * px + py * py);
  });
  if (!(norm > 0)) throw new RangeError('fitSimilarity: the source points coincide');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

/** The transform from image pixels to chip pixels for a face's keypoints and a model's template. */
export function chipTransform(keypoints: FaceKeypoints, template: FaceTemplate, size: number): Similarity {
  const src = FIT_POINTS.map(([name]) => keypoints[name]);
  const dst = FIT_POINTS.map(([name]) => ({ x: template[name].x * size, y: template[name].y * size }));
  return fitSimilarity(src, dst, FIT_POINTS.map(([, weight]) => weight));
}

/**
 * Below this scale (chip pixels per image pixel) the image is first shrunk with a proper filter, so
 * that bilinear sampling does not alias a large face into a noisy chip.
 */
const MAX_DOWNSAMPLE = 0.7;

/** The aligned size x size RGB chip of a face: keypoints where the template puts them, black outside the image. */
export async function alignFace(image: RgbImage, keypoints: FaceKeypoints, template: FaceTemplate, size: number): Promise<RgbImage> {
  return warpToChip(image, chipTransform(keypoints, template, size), size);
}

/** Resamples the chip that `toChip` (image pixels to chip pixels) defines. */
export async function warpToChip(image: RgbImage, toChip: Similarity, size: number): Promise<RgbImage> {
  let source = image;
  let t = toChip;
  const scale = similarityScale(toChip);
  if (scale < MAX_DOWNSAMPLE) {
    // The image region the chip covers, shrunk to about the chip's resolution (still a little larger,
    // so the bilinear step has detail to interpolate).
    const back = invertSimilarity(toChip);
    const corners = [
      { x: 0, y: 0 },
      { x: size, y: 0 },
      { x: 0, y: size },
      { x: size, y: size },
    ].map((p) => applySimilarity(back, p));
    const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - 1);
    const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - 1);
    const x1 = Math.min(image.width, Math.ceil(Math.max(...corners.map((p) => p.x))) + 1);
    const y1 = Math.min(image.height, Math.ceil(Math.max(...corners.map((p) => p.y))) + 1);
    if (x1 > x0 && y1 > y0) {
      const shrink = Math.min(1, scale / MAX_DOWNSAMPLE);
      const width = Math.max(1, Math.round((x1 - x0) * shrink));
      const height = Math.max(1, Math.round((y1 - y0) * shrink));
      const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
        .resize(width, height, { fit: 'fill' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      source = { data, width: info.width, height: info.height };
      const fx = info.width / (x1 - x0);
      const fy = info.height / (y1 - y0);
      // region pixel = (image pixel - origin) * f, so toChip(image) = toChip(region / f + origin)
      const f = (fx + fy) / 2;
      t = { a: toChip.a / f, b: toChip.b / f, tx: toChip.tx + toChip.a * x0 - toChip.b * y0, ty: toChip.ty + toChip.b * x0 + toChip.a * y0 };
    }
  }
  return sampleBilinear(source, invertSimilarity(t), size);
}

/** For each chip pixel centre, the bilinear sample of `image` at back(centre); black outside. */
function sampleBilinear(image: RgbImage, back: Similarity, size: number): RgbImage {
  const out = Buffer.alloc(size * size * 3);
  const { data, width, height } = image;
  const row = width * 3;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      // Pixel centres: chip (u + 0.5, v + 0.5) to image coordinates, then to the grid of pixel centres.
      const cx = u + 0.5;
      const cy = v + 0.5;
      const x = back.a * cx - back.b * cy + back.tx - 0.5;
      const y = back.b * cx + back.a * cy + back.ty - 0.5;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * size + u) * 3;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
        // All four neighbours inside: the common case, without a test per neighbour. The sum is
        // non-negative, so adding a half and truncating rounds it (Math.round cost twice the loop).
        const i00 = y0 * row + x0 * 3;
        const i01 = i00 + row;
        out[o] = (w00 * data[i00]! + w10 * data[i00 + 3]! + w01 * data[i01]! + w11 * data[i01 + 3]! + 0.5) | 0;
        out[o + 1] = (w00 * data[i00 + 1]! + w10 * data[i00 + 4]! + w01 * data[i01 + 1]! + w11 * data[i01 + 4]! + 0.5) | 0;
        out[o + 2] = (w00 * data[i00 + 2]! + w10 * data[i00 + 5]! + w01 * data[i01 + 2]! + w11 * data[i01 + 5]! + 0.5) | 0;
        continue;
      }
      // The four neighbours' offsets, or -1 for one outside the image (black).
      const inX0 = x0 >= 0 && x0 < width;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < width;
      const inY0 = y0 >= 0 && y0 < height;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < height;
      const i00 = inX0 && inY0 ? (y0 * width + x0) * 3 : -1;
      const i10 = inX1 && inY0 ? (y0 * width + x0 + 1) * 3 : -1;
      const i01 = inX0 && inY1 ? ((y0 + 1) * width + x0) * 3 : -1;
      const i11 = inX1 && inY1 ? ((y0 + 1) * width + x0 + 1) * 3 : -1;
      for (let c = 0; c < 3; c++) {
        const value =
          (i00 >= 0 ? w00 * data[i00 + c]! : 0) +
          (i10 >= 0 ? w10 * data[i10 + c]! : 0) +
          (i01 >= 0 ? w01 * data[i01 + c]! : 0) +
          (i11 >= 0 ? w11 * data[i11 + c]! : 0);
        out[o + c] = (value + 0.5) | 0;
      }
    }
  }
  return { data: out, width: size, height: size };
}
