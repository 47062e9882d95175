import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../config.ts';
import { alignFace } from '../core/align.ts';
import { decodeImage } from '../core/decode.ts';
import { loadDetector } from '../core/detect/detector.ts';
import { VGG_FACE_INPUT_SIZE as INPUT_SIZE, VGG_FACE_TEMPLATE } from '../core/models/vggFace.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { RgbImage } from '../core/types.ts';
import { IMAGE_EXTENSIONS } from './galleryFolder.ts';

// Calibration crops for VGG-Face's int8 graph: real faces, found and aligned exactly as the
// pipeline will feed the model (BlazeFace keypoints, VGG-Face's template, 224 px), from a folder of
// photos the user names. Their activations set the quantised ranges, so they should look like the
// faces the index will hold: a few dozen photos of different people are enough.

/** Crops used when the caller does not say. */
export const DEFAULT_CALIBRATION_CROPS = 64;

/** Image files anywhere under `folder`, sorted. */
function imagesUnder(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) && statSync(full).isFile()) out.push(full);
    }
  };
  walk(folder);
  return out;
}

/**
 * Up to `count` aligned 224 px face crops from the photos under `folder`, taken evenly across its
 * files (so across people, when it is a gallery folder); the largest face of each photo.
 */
export async function calibrationCrops(folder: string, opts: { modelsDir: string; device: Device; count?: number }): Promise<Result<RgbImage[]>> {
  const count = opts.count ?? DEFAULT_CALIBRATION_CROPS;
  let files: string[];
  try {
    files = imagesUnder(folder);
  } catch {
    return fail('missing_file', `No such folder: ${folder}`);
  }
  if (files.length === 0) return fail('missing_file', `No photos under ${folder} to calibrate with.`);
  const detector = await loadDetector('blazeface', { modelsDir: opts.modelsDir, device: opts.device });
  if (!detector.ok) return detector;
  const crops: RgbImage[] = [];
  try {
    // Every file once, in an order that spreads the first `count` over the whole folder.
    const step = Math.max(1, Math.floor(files.length / count));
    const order = Array.from({ length: step }, (_, offset) => files.filter((_, i) => i % step === offset)).flat();
    for (const file of order) {
      if (crops.length >= count) break;
      const image = await decodeImage(await readFile(file));
      if (!image.ok) continue;
      const [face] = await detector.value.detect(image.value, { maxFaces: 1 });
      if (!face?.keypoints) continue;
      crops.push(await alignFace(image.value, face.keypoints, VGG_FACE_TEMPLATE, INPUT_SIZE));
    }
  } finally {
    await detector.value.dispose();
  }
  if (crops.length < 8) return fail('no_face', `Only ${crops.length} faces found under ${folder}; calibration needs at least 8.`);
  return ok(crops);
}
