import { alignFace, applySimilarity, chipTransform, type FaceTemplate } from './align.ts';
import { sharp } from './runtime/sharp.ts';
import type { FaceKeypoints, Point, RgbImage } from './types.ts';

// The morph: the user's face turning into their look-alike's and back. Both faces are first aligned to
// one template (eyes, nose and mouth where the template puts them), so what moves is what differs
// between the two faces, not where each photo framed them. Each frame then warps both aligned faces
// to the in-between shape, piecewise affinely over a fixed triangle mesh of the keypoints and the
// frame's border, and cross-fades them. Without keypoints on either side only the cross-fade is left.

/**
 * Where the morph puts the features, as fractions of the square frame: the face large enough that a
 * gallery thumbnail (a display crop, 1.6 face widths) still fills the frame.
 */
export const MORPH_TEMPLATE: FaceTemplate = {
  rightEye: { x: 0.365, y: 0.43 },
  leftEye: { x: 0.635, y: 0.43 },
  nose: { x: 0.5, y: 0.575 },
  mouth: { x: 0.5, y: 0.7 },
};

export interface MorphFace {
  image: RgbImage;
  /** Null: the image is already the face, square and framed like a display crop. */
  keypoints: FaceKeypoints | null;
}

export interface MorphFrames {
  size: number;
  /** RGB frames, each size x size x 3. */
  frames: Buffer[];
  /** Milliseconds each frame shows. */
  delays: number[];
  method: 'warp' | 'dissolve';
}

export interface MorphOptions {
  /** Frame side in pixels (default 256). */
  size?: number;
  /** Frames of each transition (default 16). */
  steps?: number;
  /** Milliseconds per transition frame (default 50) and on each face before it turns (default 250). */
  frameMs?: number;
  holdMs?: number;
}

// Mesh points: the frame's corners and edge midpoints (fixed), then the four features (moving).
const BORDER: Point[] = [
  { x: 0, y: 0 },
  { x: 0.5, y: 0 },
  { x: 1, y: 0 },
  { x: 1, y: 0.5 },
  { x: 1, y: 1 },
  { x: 0.5, y: 1 },
  { x: 0, y: 1 },
  { x: 0, y: 0.5 },
];
const FEATURES = ['rightEye', 'leftEye', 'nose', 'mouth'] as const;
// Indices into BORDER ++ FEATURES (8 right eye, 9 left eye, 10 nose, 11 mouth). The triangles tile the
// frame for the template's own layout, and aligned faces stay close enough to it that none flips.
const TRIANGLES: readonly (readonly [number, number, number])[] = [
  [0, 1, 8], [1, 9, 8], [1, 2, 9], [2, 3, 9], [0, 8, 7],
  [8, 9, 10], [7, 8, 10], [3, 10, 9], [7, 10, 11], [3, 11, 10],
  [7, 11, 6], [6, 11, 5], [3, 4, 11], [4, 5, 11],
];

/** The face aligned to the morph template, and its feature points in frame pixels. */
async function alignForMorph(face: MorphFace, size: number): Promise<{ chip: RgbImage; points: Point[] | null }> {
  if (!face.keypoints) return { chip: await squareResize(face.image, size), points: null };
  const chip = await alignFace(face.image, face.keypoints, MORPH_TEMPLATE, size);
  const t = chipTransform(face.keypoints, MORPH_TEMPLATE, size);
  return { chip, points: FEATURES.map((f) => applySimilarity(t, face.keypoints![f])) };
}

async function squareResize(image: RgbImage, size: number): Promise<RgbImage> {
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: 'cover' })
    .raw()
    .toBuffer();
  return { data, width: size, height: size };
}

const smoothstep = (t: number) => t * t * (3 - 2 * t);

/**
 * Frames from `from` to `to` and back, about 2 s with the defaults: the first frame is `from` as
 * aligned, frame `steps` (where it turns) is `to`, and the last is one step short of `from`, since
 * chats loop animations and the loop starts again at `from`.
 */
export async function morphFrames(from: MorphFace, to: MorphFace, opts: MorphOptions = {}): Promise<MorphFrames> {
  const size = opts.size ?? 256;
  const steps = opts.steps ?? 16;
  const frameMs = opts.frameMs ?? 50;
  const holdMs = opts.holdMs ?? 250;
  const [a, b] = await Promise.all([alignForMorph(from, size), alignForMorph(to, size)]);
  const warp = a.points !== null && b.points !== null;
  const border = BORDER.map((p) => ({ x: p.x * size, y: p.y * size }));
  const meshA = warp ? [...border, ...a.points!] : null;
  const meshB = warp ? [...border, ...b.points!] : null;

  const frameAt = (t: number): Buffer => {
    if (t === 0) return Buffer.from(a.chip.data);
    if (t === 1) return Buffer.from(b.chip.data);
    if (!meshA || !meshB) return dissolve(a.chip.data, b.chip.data, t);
    const mesh = meshA.map((p, i) => ({ x: p.x + (meshB[i]!.x - p.x) * t, y: p.y + (meshB[i]!.y - p.y) * t }));
    return dissolve(warpMesh(a.chip, meshA, mesh), warpMesh(b.chip, meshB, mesh), t);
  };

  const forward: number[] = Array.from({ length: steps + 1 }, (_, i) => smoothstep(i / steps));
  const frames: Buffer[] = [];
  const delays: number[] = [];
  forward.forEach((t, i) => {
    frames.push(frameAt(t));
    delays.push(i === 0 || i === steps ? holdMs : frameMs);
  });
  // And back, without repeating the turning frame; the loop's restart shows `from` again.
  for (let i = steps - 1; i >= 1; i--) {
    frames.push(frames[i]!);
    delays.push(frameMs);
  }
  return { size, frames, delays, method: warp ? 'warp' : 'dissolve' };
}

function dissolve(a: Buffer, b: Buffer, t: number): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + (b[i]! - a[i]!) * t + 0.5;
  return out;
}

/**
 * The image whose mesh is `src`, warped so that its mesh lies on `dst`: for each triangle of `dst`, each
 * pixel inside it is sampled (bilinear) at the same barycentric position of the triangle in `src`.
 */
export function warpMesh(image: RgbImage, src: readonly Point[], dst: readonly Point[]): Buffer {
  const { width: w, height: h, data } = image;
  const out = Buffer.alloc(w * h * 3);
  for (const [i, j, k] of TRIANGLES) {
    const p0 = dst[i]!;
    const p1 = dst[j]!;
    const p2 = dst[k]!;
    const det = (p1.y - p2.y) * (p0.x - p2.x) + (p2.x - p1.x) * (p0.y - p2.y);
    if (Math.abs(det) < 1e-9) continue;
    const s0 = src[i]!;
    const s1 = src[j]!;
    const s2 = src[k]!;
    const x0 = Math.max(0, Math.floor(Math.min(p0.x, p1.x, p2.x)));
    const x1 = Math.min(w - 1, Math.ceil(Math.max(p0.x, p1.x, p2.x)));
    const y0 = Math.max(0, Math.floor(Math.min(p0.y, p1.y, p2.y)));
    const y1 = Math.min(h - 1, Math.ceil(Math.max(p0.y, p1.y, p2.y)));
    for (let y = y0; y <= y1; y++) {
      const cy = y + 0.5;
      for (let x = x0; x <= x1; x++) {
        const cx = x + 0.5;
        const l0 = ((p1.y - p2.y) * (cx - p2.x) + (p2.x - p1.x) * (cy - p2.y)) / det;
        const l1 = ((p2.y - p0.y) * (cx - p2.x) + (p0.x - p2.x) * (cy - p2.y)) / det;
        const l2 = 1 - l0 - l1;
        // A small tolerance so that pixels on shared edges are drawn by one triangle or the other.
        if (l0 < -1e-6 || l1 < -1e-6 || l2 < -1e-6) continue;
        const sx = l0 * s0.x + l1 * s1.x + l2 * s2.x - 0.5;
        const sy = l0 * s0.y + l1 * s1.y + l2 * s2.y - 0.5;
        sample(data, w, h, sx, sy, out, (y * w + x) * 3);
      }
    }
  }
  return out;
}

/** Bilinear sample with the edge pixels repeated outside the image. */
function sample(data: Buffer, w: number, h: number, x: number, y: number, out: Buffer, o: number): void {
  const cx = Math.min(w - 1, Math.max(0, x));
  const cy = Math.min(h - 1, Math.max(0, y));
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(w - 1, x0 + 1);
  const y1 = Math.min(h - 1, y0 + 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const i00 = (y0 * w + x0) * 3;
  const i10 = (y0 * w + x1) * 3;
  const i01 = (y1 * w + x0) * 3;
  const i11 = (y1 * w + x1) * 3;
  for (let c = 0; c < 3; c++) {
    const top = data[i00 + c]! + (data[i10 + c]! - data[i00 + c]!) * fx;
    const bottom = data[i01 + c]! + (data[i11 + c]! - data[i01 + c]!) * fx;
    out[o + c] = top + (bottom - top) * fy + 0.5;
  }
}
