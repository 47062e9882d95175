import type { Box } from '../../core/types.ts';

// Where the face is in an IMDB-WIKI crop. face_location in the .mat is [x1 y1 x2 y2] in the pixels of
// the ORIGINAL photo (1-based, as MATLAB counts; on the real wiki.mat x1 / (x2 - x1) ranges from 0 to
// over 4, so it cannot be crop coordinates). The crop files were cut from the original around that box
// with a margin of 40 % of the box's width and height on each side. Where the margin reached past the
// original's edge the crop was either padded (it is then exactly 1.8 times the box) or clipped (then
// smaller, and the box sits nearer the clipped edge, by exactly as much as the original allowed).
// Both cases are recognised from the crop's own size. A crop that fits neither (resized, or not from
// this dataset) is taken by its layout alone: the face fills the middle 1/1.8 of each side.

export const CROP_MARGIN = 0.4;
const CROP_SPAN = 1 + 2 * CROP_MARGIN;

export type FaceLocation = readonly [number, number, number, number];

export interface CropFace {
  /** The face box in the crop's (upright, full-size) pixels. */
  box: Box;
  /** 'metadata': from face_location; 'whole_image': from the crop's layout, face_location not matching the file. */
  source: 'metadata' | 'whole_image';
}

/** Within 2 % (and 2 px) of the expected size: rounding in the cropping script. */
function near(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 0.02 * expected + 2;
}

/** The face box inside a crop of `width` x `height`, from the row's face_location. */
export function faceInCrop(location: FaceLocation, width: number, height: number): CropFace {
  const [x1, y1, x2, y2] = location;
  const w = x2 - x1;
  const h = y2 - y1;
  const usable = [x1, y1, x2, y2].every(Number.isFinite) && w >= 8 && h >= 8;
  if (usable) {
    const padded = near(width, CROP_SPAN * w) && near(height, CROP_SPAN * h);
    // Clipped at the left/top: the box starts x1 - 1 pixels in (all the original had); clipped at the
    // right/bottom: the crop is narrower but the box still starts CROP_MARGIN * w in.
    const left = padded ? CROP_MARGIN * w : Math.min(x1 - 1, CROP_MARGIN * w);
    const top = padded ? CROP_MARGIN * h : Math.min(y1 - 1, CROP_MARGIN * h);
    const fits = left >= 0 && top >= 0 && left + w <= width + 2 && top + h <= height + 2;
    const notLarger = width <= CROP_SPAN * w + 2 && height <= CROP_SPAN * h + 2;
    if (fits && notLarger) {
      return { box: roundBox({ x: left, y: top, width: Math.min(w, width - left), height: Math.min(h, height - top) }), source: 'metadata' };
    }
  }
  const fw = width / CROP_SPAN;
  const fh = height / CROP_SPAN;
  return { box: roundBox({ x: (width - fw) / 2, y: (height - fh) / 2, width: fw, height: fh }), source: 'whole_image' };
}

/** The face_location a padded crop of this size would carry (for writing test and benchmark metadata). */
export function paddedCropLocation(width: number, height: number, origin = { x: 500, y: 500 }): FaceLocation {
  const w = width / CROP_SPAN;
  const h = height / CROP_SPAN;
  return [origin.x, origin.y, origin.x + w, origin.y + h];
}

function roundBox(b: Box): Box {
  const x = Math.round(b.x);
  const y = Math.round(b.y);
  return { x, y, width: Math.max(1, Math.round(b.x + b.width) - x), height: Math.max(1, Math.round(b.y + b.height) - y) };
}
