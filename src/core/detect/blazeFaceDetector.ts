import { applySimilarity, invertSimilarity, warpToChip, type Similarity } from '../align.ts';
import { KEYPOINTS, SIZE_MULTIPLE, type BlazeFaceModel } from '../models/blazeFace.ts';
import { sharp } from '../runtime/sharp.ts';
import type { DetectedFace, FaceKeypoints, Point, RgbImage } from '../types.ts';
import { blendOverlapping, dropNested, type Candidate } from './blend.ts';

// Every face of a photo with BlazeFace. The network sees faces of a fixed band of sizes (about
// FACE_BAND px at its input), so the photo is scanned as a pyramid: first whole at a small scale
// (large faces), then finer, each level one run over the whole picture (the graph's input size is
// free; see nextScale for how fine). A level is only run when it could find a face that still
// matters: smaller than the previous levels could see, but at least minFaceSize pixels and, for a
// caller that asks, at least relativeMinFace of the largest face found so far. Detections from all
// levels are blended where they overlap (blend.ts); rolled heads get their keypoints re-read upright.

export interface BlazeFaceOptions {
  /** Score (0..1) a face needs. */
  minScore: number;
  /** Smallest face side looked for, in image pixels. */
  minFaceSize: number;
  /**
   * Stop looking for faces smaller than this fraction of the largest one found (0: every face). A
   * chat reply shows the few largest faces; a background face a quarter their size is not one of them.
   */
  relativeMinFace: number;
  /** The caller keeps at most this many faces (largest first); finer levels stop once they cannot change which. */
  maxFaces: number;
  /** A level never enlarges the photo more than this. */
  maxUpscale: number;
  /** A level's input is at most this many pixels (bounds time and memory on huge photos). */
  maxLevelPixels: number;
  /**
   * Score a face needs at a level after the first that enlarges the photo. Enlarged pixels are smooth,
   * and the network reads faces into smooth textures: the highest false faces on the face-free patches
   * (tests/fixtures) came from such levels, and at 0.75 everywhere one patch still gives a face
   * (bench/detect.ts).
   */
  minScoreEnlarged: number;
}

export const DEFAULT_BLAZEFACE_OPTIONS: Readonly<BlazeFaceOptions> = Object.freeze({
  minScore: 0.75,
  minFaceSize: 20,
  relativeMinFace: 0,
  maxFaces: Infinity,
  maxUpscale: 2,
  maxLevelPixels: 4_500_000,
  minScoreEnlarged: 0.85,
});

/** Face sides, in network-input pixels, the full-range model finds reliably (measured: bench/detect.ts). */
export const FACE_BAND = { min: 28, max: 200 } as const;
/** Long side of the first level: the whole photo, a face filling it stays inside FACE_BAND. */
const FIRST_LEVEL_SIDE = 192;
/** Grey border around each level (input pixels): a face cut by the photo's edge keeps some context. */
const BORDER = 16;
/** Overlapping detections (intersection over union) blended into one, as MediaPipe does. */
const BLEND_IOU = 0.3;
/** A detection with more than this share of its area inside a larger face is part of that face. */
const MAX_INSIDE = 0.4;

interface Level {
  scale: number;
  width: number;
  height: number;
  /** Canvas: content plus border, rounded up to SIZE_MULTIPLE. */
  canvasWidth: number;
  canvasHeight: number;
}

function levelAt(scale: number, image: { width: number; height: number }): Level {
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const round = (n: number) => Math.ceil((n + 2 * BORDER) / SIZE_MULTIPLE) * SIZE_MULTIPLE;
  return { scale, width, height, canvasWidth: round(width), canvasHeight: round(height) };
}

/** The scale of the first level: the whole photo, so that a face filling it still fits the band. */
function firstScale(image: { width: number; height: number }, o: BlazeFaceOptions): number {
  return Math.min(FIRST_LEVEL_SIDE / Math.max(image.width, image.height), o.maxUpscale);
}

/**
 * The smallest face side (image pixels) still worth looking for, given the faces found so far:
 * minFaceSize, a share of the largest face (relativeMinFace), and once maxFaces faces are known, the
 * smallest of those (a smaller face cannot displace it).
 */
function smallestWanted(found: readonly Candidate[], o: BlazeFaceOptions): number {
  const sides = found.map(side).sort((a, b) => b - a);
  let wanted = o.minFaceSize;
  if (sides.length > 0) wanted = Math.max(wanted, o.relativeMinFace * sides[0]!);
  if (sides.length >= o.maxFaces) wanted = Math.max(wanted, sides[o.maxFaces - 1]!);
  return wanted;
}

/**
 * The next level's scale after one at `scale`, or null when no finer level can find a face still
 * wanted. While nothing is found each level doubles the last (the band is wide enough that faces
 * between two levels are seen by both). Once a face is found, the next level is the one that sees
 * exactly the smallest wanted face: its band reaches 7 times higher, so when that is at least the
 * largest face found, no level in between can add anything.
 */
function nextScale(scale: number, image: { width: number; height: number }, found: readonly Candidate[], o: BlazeFaceOptions): number | null {
  const seenDownTo = FACE_BAND.min / scale;
  const wanted = smallestWanted(found, o);
  if (seenDownTo <= wanted) return null;
  const largest = Math.max(0, ...found.map(side));
  const coversLargest = largest > 0 && (FACE_BAND.max / FACE_BAND.min) * wanted >= largest;
  const next = Math.min(coversLargest ? Infinity : 2 * scale, FACE_BAND.min / wanted, o.maxUpscale);
  // One barely finer than the last is not worth its run.
  if (next < scale * 1.15) return null;
  const level = levelAt(next, image);
  return level.canvasWidth * level.canvasHeight > o.maxLevelPixels ? null : next;
}

/** The levels a photo with no face in it is scanned at: the most any photo of its size costs. */
export function pyramid(image: { width: number; height: number }, o: BlazeFaceOptions): Level[] {
  const levels = [levelAt(firstScale(image, o), image)];
  for (let next = nextScale(levels[0]!.scale, image, [], o); next !== null; next = nextScale(next, image, [], o)) levels.push(levelAt(next, image));
  return levels;
}

/** Byte to network input: [0, 255] to [-1, 1]. */
const TO_INPUT = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);
/** The grey border's input value. */
const GREY = TO_INPUT[128]!;

/**
 * The level's pixels, scaled and bordered, as the network's NHWC floats in [-1, 1]. libvips only
 * resizes; the border is written here while converting, which saves sharp a pass over the canvas.
 * `scratch` is reused between levels and calls when it is large enough.
 */
async function levelInput(image: RgbImage, level: Level, scratch: { buffer: Float32Array }): Promise<Float32Array> {
  const { data } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(level.width, level.height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const length = level.canvasWidth * level.canvasHeight * 3;
  if (scratch.buffer.length < length) scratch.buffer = new Float32Array(length);
  const out = scratch.buffer.subarray(0, length);
  out.fill(GREY);
  const rowBytes = level.width * 3;
  for (let y = 0; y < level.height; y++) {
    let o = ((y + BORDER) * level.canvasWidth + BORDER) * 3;
    for (let i = y * rowBytes, end = i + rowBytes; i < end; i++, o++) out[o] = TO_INPUT[data[i]!]!;
  }
  return out;
}

const KEYPOINT_NAMES = ['rightEye', 'leftEye', 'nose', 'mouth', 'rightEar', 'leftEar'] as const satisfies readonly (keyof FaceKeypoints)[];

function toFace(c: Candidate, image: { width: number; height: number }): DetectedFace | undefined {
  const x0 = Math.max(0, Math.round(c.x0));
  const y0 = Math.max(0, Math.round(c.y0));
  const x1 = Math.min(image.width, Math.round(c.x1));
  const y1 = Math.min(image.height, Math.round(c.y1));
  if (x1 <= x0 || y1 <= y0) return undefined;
  const keypoints = Object.fromEntries(KEYPOINT_NAMES.map((name, k) => [name, c.keypoints[k]!])) as unknown as FaceKeypoints;
  return { box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, source: 'blazeface', score: c.score, keypoints };
}

const side = (c: Candidate) => Math.max(c.x1 - c.x0, c.y1 - c.y0);

export async function detectFacesBlazeFace(model: BlazeFaceModel, image: RgbImage, opts?: Partial<BlazeFaceOptions>): Promise<DetectedFace[]> {
  const o: BlazeFaceOptions = { ...DEFAULT_BLAZEFACE_OPTIONS, ...opts };
  const found = await scan(model, image, o);
  const refined = await Promise.all(found.slice(0, MAX_REFINED).map((c) => refineRolled(model, image, c)));
  return finish([...refined, ...found.slice(MAX_REFINED)], image, o);
}

/** A head rolled more than this (degrees) has its keypoints found again on an upright copy. */
const REFINE_MIN_ROLL = 8;
/** Faces refined per photo (largest scores first): a reply shows a handful. */
const MAX_REFINED = 8;
/** Side of the upright copy, and the face's share of it. */
const REFINE_SIZE = 160;
const REFINE_FACE_SHARE = 0.45;

/**
 * The network was trained on mostly upright faces: on a rolled head its keypoints lean back towards
 * upright, so the roll they show is too small (35 degrees reads as about 20). As MediaPipe does for
 * its face mesh, the face is turned upright by the roll estimated so far and looked at again, twice
 * at most; the keypoints found on the upright copy are mapped back.
 */
async function refineRolled(model: BlazeFaceModel, image: RgbImage, face: Candidate): Promise<Candidate> {
  let current = face;
  for (let pass = 0; pass < 2; pass++) {
    const [rightEye, leftEye] = current.keypoints;
    const roll = Math.atan2(leftEye!.y - rightEye!.y, leftEye!.x - rightEye!.x);
    if (Math.abs((roll * 180) / Math.PI) < REFINE_MIN_ROLL) break;
    const cx = (current.x0 + current.x1) / 2;
    const cy = (current.y0 + current.y1) / 2;
    const scale = (REFINE_FACE_SHARE * REFINE_SIZE) / side(current);
    // Image to upright copy: rotate by -roll about the face's centre, scale, centre in the copy.
    const a = scale * Math.cos(-roll);
    const b = scale * Math.sin(-roll);
    const toUpright: Similarity = { a, b, tx: REFINE_SIZE / 2 - (a * cx - b * cy), ty: REFINE_SIZE / 2 - (b * cx + a * cy) };
    const copy = await warpToChip(image, toUpright, REFINE_SIZE);
    const input = new Float32Array(copy.data.length);
    for (let i = 0; i < copy.data.length; i++) input[i] = TO_INPUT[copy.data[i]!]!;
    const raw = await model.predict(input, REFINE_SIZE, REFINE_SIZE, 0.3);
    const centred = raw
      .filter((d) => Math.hypot(d.cx - REFINE_SIZE / 2, d.cy - REFINE_SIZE / 2) < 0.25 * REFINE_SIZE)
      .sort((p, q) => q.score - p.score)[0];
    if (!centred) break;
    const back = invertSimilarity(toUpright);
    current = { ...current, keypoints: centred.keypoints.slice(0, KEYPOINTS).map((p) => applySimilarity(back, p)) };
  }
  return current;
}

function finish(found: Candidate[], image: RgbImage, o: BlazeFaceOptions): DetectedFace[] {
  return found
    .filter((c) => side(c) >= o.minFaceSize * 0.8)
    .map((c) => toFace(c, image))
    .filter((f): f is DetectedFace => f !== undefined)
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
}

/** Runs the levels coarse to fine and blends what they find, stopping when finer levels cannot matter. */
async function scan(model: BlazeFaceModel, image: RgbImage, o: BlazeFaceOptions): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  let found: Candidate[] = [];
  const scratch = { buffer: new Float32Array(0) };
  for (let scale: number | null = firstScale(image, o), first = true; scale !== null; first = false) {
    const level = levelAt(scale, image);
    const minScore = !first && level.scale > 1 ? Math.max(o.minScore, o.minScoreEnlarged) : o.minScore;
    const raw = await model.predict(await levelInput(image, level, scratch), level.canvasWidth, level.canvasHeight, minScore);
    const toImage = (p: Point): Point => ({ x: (p.x - BORDER) / level.scale, y: (p.y - BORDER) / level.scale });
    for (const d of raw) {
      // A face bigger than the band is the coarser level's to find; here it would be a poor guess.
      if (Math.max(d.width, d.height) > FACE_BAND.max * 1.25) continue;
      const c0 = toImage({ x: d.cx - d.width / 2, y: d.cy - d.height / 2 });
      const c1 = toImage({ x: d.cx + d.width / 2, y: d.cy + d.height / 2 });
      candidates.push({ score: d.score, x0: c0.x, y0: c0.y, x1: c1.x, y1: c1.y, keypoints: d.keypoints.slice(0, KEYPOINTS).map(toImage) });
    }
    found = dropNested(blendOverlapping(candidates, BLEND_IOU), MAX_INSIDE);
    scale = nextScale(level.scale, image, found, o);
  }
  return found;
}
