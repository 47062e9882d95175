import type { RgbImage } from '../types.ts';

// A cut between shots: box overlap says nothing across one, so the tracker then joins faces on their
// descriptors alone. Measured as the mean absolute difference of small grey thumbnails.

const GRID = 24;
/** Mean grey difference (0..255) above which two sampled frames are taken to be different shots. */
export const CUT_THRESHOLD = 28;

export function thumbnail(image: RgbImage): Float32Array {
  const out = new Float32Array(GRID * GRID);
  for (let gy = 0; gy < GRID; gy++) {
    const y = Math.min(image.height - 1, Math.floor(((gy + 0.5) * image.height) / GRID));
    for (let gx = 0; gx < GRID; gx++) {
      const x = Math.min(image.width - 1, Math.floor(((gx + 0.5) * image.width) / GRID));
      const i = (y * image.width + x) * 3;
      out[gy * GRID + gx] = 0.299 * image.data[i]! + 0.587 * image.data[i + 1]! + 0.114 * image.data[i + 2]!;
    }
  }
  return out;
}

export function frameDifference(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
