import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../config.ts';
import { alignFace, type FaceTemplate } from '../core/align.ts';
import { decodeImage } from '../core/decode.ts';
import { loadDetector } from '../core/detect/detector.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { RgbImage } from '../core/types.ts';
import { IMAGE_EXTENSIONS } from './galleryFolder.ts';

// Calibration crops for a model's int8 graph (VGG-Face's, the default model's): real faces, found and
// aligned exactly as the pipeline will feed the model (BlazeFace keypoints, the model's template and
// chip size), from a folder of photos the user names. Their activations set the quantised ranges, so
// they should look like the faces the index will hold: photos of many different people.

/** Crops used when the caller does not say (VGG-Face: the probe's activations take 54 MB a crop). */
export const DEFAULT_CALIBRATION_CROPS = 64;

/**
 * The default model's: its int8 ranges are the calibration's extremes, which more faces make safer.
 * Calibrated on 64 faces of faces/people, the worst of faces/validation's descriptors agreed with its
 * fp32 one to a cosine of 0.981; on all 139, to 0.996 (bench/defaultInt8.ts).
 */
export const DEFAULT_MODEL_CALIBRATION_CROPS = 256;

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

/** How a model takes its faces: its alignment template and the side of its square chip. */
export interface CalibrationChip {
  template: FaceTemplate;
  size: number;
}

/**
 * Up to `count` face crops aligned to `chip` from the photos under `folder`, taken evenly across its
 * files (so across people, when it is a gallery folder); the largest face of each photo.
 */
export async function calibrationCrops(folder: string, opts: { modelsDir: string; device: Device; chip: CalibrationChip; count?: number }): Promise<Result<RgbImage[]>> {
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
      crops.push(await alignFace(image.value, face.keypoints, opts.chip.template, opts.chip.size));
    }
  } finally {
    await detector.value.dispose();
  }
  if (crops.length < 8) return fail('no_face', `Only ${crops.length} faces found under ${folder}; calibration needs at least 8.`);
  return ok(crops);
}
