import { sharp } from '../runtime/sharp.ts';
import { loadHaarCascade, type GreyImage, type HaarCascade } from '../runtime/opencv.ts';
import type { Box, DetectedFace, RgbImage } from '../types.ts';

// Haar cascade face detection. The cascade runs on a small grey copy (its cost grows with the pixel
// count, and a 24x24 window needs no more), each hit is confirmed by a second, differently trained
// cascade, and boxes are mapped back to the decoded image. Tight crops with no context around the
// face get a second try on a padded copy; a caller that knows its pictures are face crops (a dataset
// import) can have a small squarish one taken whole when even that fails.
// The defaults were measured on the shared photos: bench/detect.ts prints the figures.

export const FRONTAL_FACE_CASCADE = 'haarcascade_frontalface_default.xml';
/** Trained separately from the default cascade, so the two rarely share a false positive. */
export const VERIFY_CASCADE = 'haarcascade_frontalface_alt2.xml';

export interface DetectOptions {
  /** Long side, in pixels, of the grey copy the cascade scans (smaller images are enlarged to it, at most 2x). */
  workingSize: number;
  /** Pyramid step of detectMultiScale. */
  scaleFactor: number;
  /** Raw hits needed for a detection. */
  minNeighbors: number;
  /** Smallest face side as a fraction of the image's long side. */
  minFaceFraction: number;
  /** Confirm each hit with VERIFY_CASCADE around it. */
  verify: boolean;
  /** When nothing is found, retry on a copy with a border (tight crops have no context around the face). */
  padRetry: boolean;
  /**
   * Last resort: a small (long side <= 400), squarish, not flat image is taken as one face, with
   * source 'whole_image'. Off by default: it holds only for pictures known to be face crops; on 59
   * face-free patches of the shared photos it would call 37 more of them a face.
   */
  wholeImageFallback: boolean;
  /** Folder of the cascade XML files (default: runtime/opencv.ts haarcascadesDir()). */
  cascadeDir?: string;
}

export const DEFAULT_DETECT_OPTIONS: Readonly<DetectOptions> = Object.freeze({
  workingSize: 480,
  scaleFactor: 1.15,
  minNeighbors: 5,
  minFaceFraction: 0.05,
  verify: true,
  padRetry: true,
  wholeImageFallback: false,
});

/** A small image is enlarged at most this much: a 150 px crop need not cost a 480 px scan. */
const MAX_ENLARGEMENT = 2;
/** Border added on each side for the retry, as a fraction of the long side. */
const PAD_FRACTION = 0.3;
/** Long side of the padded copy: the face then spans about 150 px, plenty for a 24 px window. */
const PAD_WORKING_SIZE = 240;
/** Images up to this long side are also scanned padded, and may be taken whole... */
const SMALL_IMAGE_SIDE = 400;
/** ...aspect ratio (long / short) at most this... */
const WHOLE_IMAGE_MAX_ASPECT = 1.4;
/** ...and grey standard deviation at least this (a blank or nearly flat picture is no face). */
const WHOLE_IMAGE_MIN_STDDEV = 20;

export async function detectFacesHaar(image: RgbImage, opts?: Partial<DetectOptions>): Promise<DetectedFace[]> {
  const o: DetectOptions = { ...DEFAULT_DETECT_OPTIONS, ...opts };
  const [cascade, verifier] = await Promise.all([
    loadHaarCascade(FRONTAL_FACE_CASCADE, o.cascadeDir),
    o.verify ? loadHaarCascade(VERIFY_CASCADE, o.cascadeDir) : undefined,
  ]);

  const long = Math.max(image.width, image.height);
  const small = long <= SMALL_IMAGE_SIDE;
  const scanPadded = async (params: ScanParams): Promise<Box[]> => {
    const padded = await toGrey(image, PAD_WORKING_SIZE, Math.round(PAD_FRACTION * long));
    return scan(cascade, padded, params)
      .map((b) => clipBox(b, image.width, image.height))
      .filter((b): b is Box => b !== undefined);
  };

  const params: ScanParams = { ...o, verifier };
  let boxes = scan(cascade, await toGrey(image, Math.min(o.workingSize, MAX_ENLARGEMENT * long), 0), params);
  // A small picture is often a tight crop: the padded copy gives the cascade the context it needs, and
  // its whole-face box then absorbs any partial hit (an eye, a nose) from the plain copy.
  if (o.padRetry && (boxes.length === 0 || small)) boxes = boxes.concat(await scanPadded(params));
  if (boxes.length > 0) {
    return mergeOverlapping(boxes)
      .sort((a, b) => b.width * b.height - a.width * a.height)
      .map((box) => ({ box, source: 'cascade' as const }));
  }
  if (o.wholeImageFallback && small && (await looksLikeTightCrop(image))) {
    return [{ box: { x: 0, y: 0, width: image.width, height: image.height }, source: 'whole_image' }];
  }
  return [];
}

/** A grey copy of the image, scaled, possibly with a border. */
interface ScaledGrey extends GreyImage {
  /** Original pixels per grey pixel. */
  scale: number;
  /** Border width in grey pixels: where the image's (0, 0) lies. */
  border: number;
}

/**
 * Grey copy whose long side, border included, is `size`. The border (`pad` original pixels on each
 * side) repeats the edge pixels, so it adds no new edges for the cascade to mistake for a face.
 */
async function toGrey(image: RgbImage, size: number, pad: number): Promise<ScaledGrey> {
  const scale = (Math.max(image.width, image.height) + 2 * pad) / size;
  const border = Math.round(pad / scale);
  // sharp resizes before it extends, so the border is added at the working scale: cheap even for a large photo.
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({
      width: Math.max(1, Math.round(image.width / scale)),
      height: Math.max(1, Math.round(image.height / scale)),
      fit: 'fill',
    })
    .extend({ top: border, bottom: border, left: border, right: border, extendWith: 'copy' })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, scale, border };
}

interface ScanParams {
  scaleFactor: number;
  minNeighbors: number;
  minFaceFraction: number;
  verifier: HaarCascade | undefined;
}

/** Cascade hits in original-image pixels; those that reach into a border may start at negative coordinates. */
function scan(cascade: HaarCascade, grey: ScaledGrey, o: ScanParams): Box[] {
  const longSide = Math.max(grey.width, grey.height);
  const minSize = Math.max(24, Math.round(o.minFaceFraction * longSide));
  let hits = cascade.detect(grey, { scaleFactor: o.scaleFactor, minNeighbors: o.minNeighbors, minSize, equalize: true });
  if (o.verifier) hits = hits.filter((hit) => confirmed(o.verifier!, grey, hit));
  return hits.map((b) => ({
    x: Math.round((b.x - grey.border) * grey.scale),
    y: Math.round((b.y - grey.border) * grey.scale),
    width: Math.round(b.width * grey.scale),
    height: Math.round(b.height * grey.scale),
  }));
}

/** Runs the second cascade on the neighbourhood of one hit, looking for a face of about its size. */
function confirmed(verifier: HaarCascade, grey: GreyImage, hit: Box): boolean {
  const margin = Math.round(hit.width * 0.25);
  const region = clipBox(
    { x: hit.x - margin, y: hit.y - margin, width: hit.width + 2 * margin, height: hit.height + 2 * margin },
    grey.width,
    grey.height,
  );
  if (!region) return false;
  const roi = cropGrey(grey, region);
  const found = verifier.detect(roi, {
    scaleFactor: 1.05,
    minNeighbors: 2,
    minSize: Math.max(20, Math.round(hit.width * 0.6)),
    maxSize: Math.round(hit.width * 1.5),
    equalize: true,
  });
  return found.length > 0;
}

function cropGrey(grey: GreyImage, r: Box): GreyImage {
  const data = new Uint8Array(r.width * r.height);
  for (let row = 0; row < r.height; row++) {
    const start = (r.y + row) * grey.width + r.x;
    data.set(grey.data.subarray(start, start + r.width), row * r.width);
  }
  return { data, width: r.width, height: r.height };
}

function clipBox(b: Box, width: number, height: number): Box | undefined {
  const x0 = Math.max(0, b.x);
  const y0 = Math.max(0, b.y);
  const x1 = Math.min(width, b.x + b.width);
  const y1 = Math.min(height, b.y + b.height);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Drops a box when more than half of it lies inside a larger one: the cascade's own grouping keeps
 * nested hits (a face, and the same face at another scale).
 */
export function mergeOverlapping(boxes: readonly Box[]): Box[] {
  const bySize = [...boxes].sort((a, b) => b.width * b.height - a.width * a.height);
  const kept: Box[] = [];
  for (const box of bySize) {
    const area = box.width * box.height;
    if (kept.every((k) => intersectionArea(k, box) <= 0.5 * area)) kept.push(box);
  }
  return kept;
}

/** Small, squarish and not flat: what a face crop from a face database looks like. */
async function looksLikeTightCrop(image: RgbImage): Promise<boolean> {
  const long = Math.max(image.width, image.height);
  const short = Math.min(image.width, image.height);
  if (long / short > WHOLE_IMAGE_MAX_ASPECT) return false;
  const stats = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .toColourspace('b-w')
    .stats();
  const stdev = stats.channels[0]?.stdev ?? 0;
  return stdev >= WHOLE_IMAGE_MIN_STDDEV;
}

