import { decodeImage } from '../../core/decode.ts';
import { chipForModel, type FacePipeline } from '../../core/faces.ts';
import type { FaceSource } from '../../core/gallery.ts';
import { ok, type Result } from '../../core/result.ts';
import { thumbnailJpeg } from '../../core/tiles.ts';
import type { Box, DetectedFace, RgbImage } from '../../core/types.ts';
import { faceInCrop, type FaceLocation } from '../imdbWiki/faceLocation.ts';
import { decodeBounded } from './boundedDecode.ts';
import { exifYear } from './photoDate.ts';

// One image of an index build: decode, find the face, cut the model's chip and the thumbnail.
// The face is found as the engine finds faces in a user's photo (the same detector, largest face
// first), so gallery and query descriptors come from the same alignment. A dataset crop that says
// where its face is (IMDB-WIKI's face_location) picks the detected face there, and is the face
// itself, framed by its box, where the detector finds none.

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
  /** The year in the file's EXIF date, when asked for (folder galleries) and present. */
  photoYear?: number;
}

export interface PrepareOptions {
  /** Thumbnail side in pixels. */
  thumbnailSize: number;
  /** Decode no larger than this long side (offline builds); null decodes at full size, as the engine does. */
  decodeMaxSide: number | null;
  /** Read the photo's year from its EXIF (folder galleries; IMDB-WIKI has photo_taken). */
  photoYear?: boolean;
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

/** A detected face counts as the dataset's face when its centre lies inside the dataset's box grown by this much. */
const EXPECTED_BOX_GROWTH = 0.25;
/** The dataset's face is looked for down to this fraction of its box's side (heads tilt, boxes differ). */
const EXPECTED_FACE_FRACTION = 0.4;

export async function prepareFace(
  bytes: Uint8Array,
  task: FaceTask,
  pipeline: FacePipeline,
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
    // The dataset found one face of about this size near the middle: the largest detection centred
    // within that box is it (a crop's margin can hold a neighbour's face too).
    const near = grow(expectedBox, EXPECTED_BOX_GROWTH);
    const faces = await pipeline.detector.detect(image, {
      maxFaces: 4,
      minFaceSize: Math.max(20, EXPECTED_FACE_FRACTION * Math.min(expectedBox.width, expectedBox.height)),
    });
    found = faces.find((f) => centreInside(f.box, near));
  } else {
    [found] = await pipeline.detector.detect(image, { maxFaces: 1 });
  }
  timings.detect += performance.now() - t;
  let face: { box: Box; source: FaceSource; keypoints?: DetectedFace['keypoints'] };
  if (found) {
    face = found;
  } else if (expectedBox && expected) {
    face = { box: expectedBox, source: expected.source };
  } else {
    return { ok: false, error: { code: 'no_face', message: 'no face found' } };
  }

  t = performance.now();
  const [crop, thumbnail] = await Promise.all([chipForModel(image, face, pipeline.embedder), thumbnailJpeg(image, face.box, opts.thumbnailSize)]);
  timings.crop += performance.now() - t;
  const photoYear = opts.photoYear ? await exifYear(bytes) : undefined;
  return ok({ box: scaleBox(face.box, scale, original), source: face.source, crop, thumbnail, ...(photoYear !== undefined ? { photoYear } : {}) });
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
