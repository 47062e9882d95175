import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readImageFile } from '../../src/core/decode.ts';
import { sharp } from '../../src/core/runtime/sharp.ts';
import type { RgbImage } from '../../src/core/types.ts';
import { facesDir, repoRoot } from './paths.ts';

// The detector's hand-made fixtures (tests/fixtures): faces counted by hand in the group photos, and
// face-free patches cut from the shared photos. Shared by tests/detect.test.ts and bench/detect.ts.

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(repoRoot, 'tests/fixtures', name), 'utf8')) as T;
}

/** Faces in each group photo of faces/scenes, by file name. */
export function sceneFaceCounts(): Record<string, number> {
  return fixture<{ counts: Record<string, number> }>('scene-face-counts.json').counts;
}

export interface FaceFreePatch {
  /** Photo under faces/, and the patch's [x, y, width, height] in its decoded pixels. */
  file: string;
  box: [number, number, number, number];
}

export function faceFreePatches(): FaceFreePatch[] {
  return fixture<{ patches: FaceFreePatch[] }>('face-free-patches.json').patches;
}

export async function loadImage(file: string): Promise<RgbImage> {
  const r = await readImageFile(file);
  if (!r.ok) throw new Error(`${file}: ${r.error.message}`);
  return r.value;
}

/** A rectangle of an image, as an image of its own. */
export async function cutImage(image: RgbImage, [x, y, width, height]: readonly number[]): Promise<RgbImage> {
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left: x!, top: y!, width: width!, height: height! })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Every face-free patch, cut out. */
export async function faceFreePatchImages(): Promise<RgbImage[]> {
  return Promise.all(faceFreePatches().map(async (p) => cutImage(await loadImage(path.join(facesDir, p.file)), p.box)));
}
