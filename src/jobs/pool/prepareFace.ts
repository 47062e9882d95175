import { decodeImage } from '../../core/decode.ts';
import { DEFAULT_DETECT_OPTIONS, detectFaces } from '../../core/detect.ts';
import { cropForDisplay, cropForModel } from '../../core/faces.ts';
import type { FaceSource } from '../../core/gallery.ts';
import type { FaceEmbedder } from '../../core/models/embedder.ts';
import { ok, type Result } from '../../core/result.ts';
import { sharp } from '../../core/runtime/sharp.ts';
import type { Box, DetectedFace, RgbImage } from '../../core/types.ts';
import { faceInCrop, type FaceLocation } from '../imdbWiki/faceLocation.ts';
import { decodeBounded } from './boundedDecode.ts';

// One image of an index build: decode, find the face, cut the model's crop and the thumbnail.
// The face is found as the engine finds faces in a user's photo (core detectFaces, largest first), so
// gallery and query descriptors come from the same framing. A dataset crop that says where its face
// is (IMDB-WIKI's face_location) narrows the cascade's search to faces of about that size, and is the
// face itself where the cascade finds none.

export interface FaceTask {
  /** Caller's id for the image (a row number, a list position); results carry it back. */
  key: number;
  path: string;
  /** IMDB-WIKI face_location of the crop, in the original photo's pixels. */
  faceLocation?: FaceLocation;
}

export interface PreparedFace {
  /** Face box in the file's upright pixels. */
  box: Box;
  source: FaceSource;
  /** inputSize x inputSize RGB for the model. */
  crop: RgbImage;
  /** JPEG thumbnail for the gallery. */
  thumbnail: Buffer;
}

export interface PrepareOptions {
  /** Thumbnail side in pixels. */
  thumbnailSize: number;
  /** Decode no larger than this long side (offline builds); null decodes at full size, as the engine does. */
  decodeMaxSide: number | null;
}

/** Milliseconds spent in each stage, summed over images. */
export interface StageTimings {
  read: number;
  decode: number;
  detect: number;
  crop: number;
  embed: number;
}

export function emptyTimings(): StageTimings {
  return { read: 0, decode: 0, detect: 0, crop: 0, embed: 0 };
}

export function addTimings(into: StageTimings, more: StageTimings): void {
  for (const k of Object.keys(into) as (keyof StageTimings)[]) into[k] += more[k];
}

/**
 * The cascade is asked for faces at least this fraction of the expected face's side: its box runs
 * brow to lip, tighter than the dataset detector's, and people tilt their heads.
 */
const EXPECTED_FACE_FRACTION = 0.4;
/** Never look for faces smaller than the core's default nor demand larger than a quarter of the image. */
const MIN_FACE_FRACTION_RANGE = [0.05, 0.25] as const;
/** Crops smaller than this are still enlarged for the cascade: their face must span a few 24 px windows. */
const MIN_WORKING_SIZE = 200;

export async function prepareFace(
  bytes: Uint8Array,
  task: FaceTask,
  model: FaceEmbedder,
  opts: PrepareOptions,
  timings: StageTimings,
): Promise<Result<PreparedFace>> {
  let t = performance.now();
  let image: RgbImage;
  let scale = 1;
  let original: { width: number; height: number };
  if (opts.decodeMaxSide === null) {
    const decoded = await decodeImage(bytes);
    if (!decoded.ok) return decoded;
    image = decoded.value;
    original = { width: image.width, height: image.height };
  } else {
    const decoded = await decodeBounded(bytes, opts.decodeMaxSide);
    if (!decoded.ok) return decoded;
    ({ image, scale, original } = decoded.value);
  }
  timings.decode += performance.now() - t;

  t = performance.now();
  const expected = task.faceLocation ? faceInCrop(task.faceLocation, original.width, original.height) : null;
  const expectedBox = expected ? scaleBox(expected.box, 1 / scale, image) : null;
  let found: DetectedFace | undefined;
  if (expectedBox) {
    // The dataset found one face of about this size near the middle. The cascade need not look for
    // faces much smaller, nor enlarge a small crop to find them (the scan's cost follows the size it
    // scans: a 250 px crop costs half as much scanned as it is as enlarged to 480 px), nor scan a
    // padded copy when the crop's own margin gives it context (only when it finds nothing). A
    // detection only counts if it is centred within the expected box, which stands in for the second
    // cascade's check on false positives.
    const long = Math.max(image.width, image.height);
    const [lo, hi] = MIN_FACE_FRACTION_RANGE;
    const minFaceFraction = Math.min(hi, Math.max(lo, (EXPECTED_FACE_FRACTION * Math.min(expectedBox.width, expectedBox.height)) / long));
    const workingSize = Math.min(DEFAULT_DETECT_OPTIONS.workingSize, Math.max(MIN_WORKING_SIZE, long));
    const near = grow(expectedBox, 0.25);
    const pick = (faces: DetectedFace[]) => faces.find((f) => centreInside(f.box, near));
    const hinted = { minFaceFraction, workingSize, verify: false };
    found = pick(await detectFaces(image, { ...hinted, padRetry: false }));
    if (!found) found = pick(await detectFaces(image, { ...hinted, padRetry: true }));
  } else {
    [found] = await detectFaces(image);
  }
  timings.detect += performance.now() - t;
  let box: Box;
  let source: FaceSource;
  if (found) {
    box = found.box;
    source = found.source;
  } else if (expectedBox && expected) {
    box = expectedBox;
    source = expected.source;
  } else {
    return { ok: false, error: { code: 'no_face', message: 'no face found' } };
  }

  t = performance.now();
  const [crop, thumb] = await Promise.all([
    cropForModel(image, box, model),
    cropForDisplay(image, box, opts.thumbnailSize),
  ]);
  const thumbnail = await thumbnailJpeg(thumb);
  timings.crop += performance.now() - t;
  return ok({ box: scaleBox(box, scale, original), source, crop, thumbnail });
}

function scaleBox(b: Box, factor: number, bounds: { width: number; height: number }): Box {
  const x = Math.max(0, Math.min(bounds.width - 1, Math.round(b.x * factor)));
  const y = Math.max(0, Math.min(bounds.height - 1, Math.round(b.y * factor)));
  const width = Math.max(1, Math.min(bounds.width - x, Math.round(b.width * factor)));
  const height = Math.max(1, Math.min(bounds.height - y, Math.round(b.height * factor)));
  return { x, y, width, height };
}

function grow(b: Box, fraction: number): Box {
  const dx = b.width * fraction;
  const dy = b.height * fraction;
  return { x: b.x - dx, y: b.y - dy, width: b.width + 2 * dx, height: b.height + 2 * dy };
}

function centreInside(inner: Box, outer: Box): boolean {
  const cx = inner.x + inner.width / 2;
  const cy = inner.y + inner.height / 2;
  return cx >= outer.x && cx <= outer.x + outer.width && cy >= outer.y && cy <= outer.y + outer.height;
}

/** Thumbnails are many and small: plain libjpeg, a third of mozjpeg's time for a few per cent more bytes. */
function thumbnailJpeg(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}
