import { sharp } from './runtime/sharp.ts';
import type { Box, RgbImage } from './types.ts';

// A detected face becomes the square chip a recognition model expects. The geometry is kept apart
// from the pixels so it can be checked by hand.

/**
 * Fraction of the box side added on every side of the square, for a model trained on dlib-style
 * chips (FaceRecognitionNet: dlib's get_face_chip_details(shape, 150, 0.25)). Measured on 156 Haar
 * boxes of the shared photos against face-api's 68 landmarks mapped onto dlib's mean face: the chip
 * is as wide as the Haar box (median margin -0.003, quartiles -0.024 and 0.024) and its centre lies
 * 0.059 of the box side lower (quartiles 0.045 and 0.077). The FaceRecognitionNet framing chosen on
 * verification AUC (models/faceRecognitionNet.ts: margin 0.1, 5 % down) agrees; 0.1 also leaves the
 * chin and brows in when the box is a little small.
 */
export const DEFAULT_FACE_MARGIN = 0.1;

/** Pixels outside the image: black, as dlib's chip extractor fills them, or the nearest edge pixel repeated. */
export type CropPadding = 'black' | 'replicate';

export interface SquareRegion {
  /** The square in image coordinates; may reach outside the image. */
  x: number;
  y: number;
  size: number;
  /** The part of the square that lies inside the image. */
  inside: Box;
  /** How far the square reaches past each edge of the image (0 where it does not). */
  pad: { left: number; top: number; right: number; bottom: number };
}

/**
 * Square of side max(w, h) * (1 + 2 * margin), centred on the box centre moved down by
 * centreShift * box height, in integer pixels. Throws RangeError for an empty box or one that does
 * not overlap the image.
 */
export function squareCropRegion(
  box: Box,
  imageW: number,
  imageH: number,
  margin: number = DEFAULT_FACE_MARGIN,
  centreShift = 0,
): SquareRegion {
  if (!(box.width > 0 && box.height > 0)) throw new RangeError(`empty face box ${JSON.stringify(box)}`);
  if (!(imageW > 0 && imageH > 0)) throw new RangeError(`empty image ${imageW}x${imageH}`);
  if (!(margin >= 0) || !Number.isFinite(margin)) throw new RangeError(`margin must be >= 0, got ${margin}`);
  if (!Number.isFinite(centreShift)) throw new RangeError(`centreShift must be a number, got ${centreShift}`);
  const size = Math.max(1, Math.round(Math.max(box.width, box.height) * (1 + 2 * margin)));
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height * (0.5 + centreShift);
  const x = Math.round(cx - size / 2);
  const y = Math.round(cy - size / 2);
  const left = Math.max(0, x);
  const top = Math.max(0, y);
  const right = Math.min(imageW, x + size);
  const bottom = Math.min(imageH, y + size);
  if (right <= left || bottom <= top) {
    throw new RangeError(`face box ${JSON.stringify(box)} lies outside the ${imageW}x${imageH} image`);
  }
  return {
    x,
    y,
    size,
    inside: { x: left, y: top, width: right - left, height: bottom - top },
    pad: { left: left - x, top: top - y, right: x + size - right, bottom: y + size - bottom },
  };
}

export interface CropOptions {
  /** Side of the output square, in pixels (150 for FaceRecognitionNet). */
  size: number;
  /** See DEFAULT_FACE_MARGIN. */
  margin?: number;
  /** Moves the square's centre down by this fraction of the box height (dlib chips: about 0.06). Default 0. */
  centreShift?: number;
  /** Default 'black'. */
  padding?: CropPadding;
}

/** The square around `box`, padded where it leaves the image, resized to size x size packed RGB. */
export async function cropFace(image: RgbImage, box: Box, opts: CropOptions): Promise<RgbImage> {
  const { size } = opts;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`crop size must be a positive integer, got ${size}`);
  const region = squareCropRegion(box, image.width, image.height, opts.margin ?? DEFAULT_FACE_MARGIN, opts.centreShift ?? 0);
  const raw = { width: image.width, height: image.height, channels: 3 as const };
  const { inside, pad } = region;

  if (pad.left === 0 && pad.top === 0 && pad.right === 0 && pad.bottom === 0) {
    // Inside the image (display crops always are): one pass, cut and resized.
    const { data, info } = await sharp(image.data, { raw })
      .extract({ left: inside.x, top: inside.y, width: inside.width, height: inside.height })
      .resize(size, size, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }
  // sharp resizes before it extends, whatever the call order, so the padded square is made first.
  const square = await sharp(image.data, { raw })
    .extract({ left: inside.x, top: inside.y, width: inside.width, height: inside.height })
    .extend({
      ...pad,
      ...(opts.padding === 'replicate' ? { extendWith: 'copy' as const } : { background: { r: 0, g: 0, b: 0 } }),
    })
    .raw()
    .toBuffer();
  const { data, info } = await sharp(square, { raw: { width: region.size, height: region.size, channels: 3 } })
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
