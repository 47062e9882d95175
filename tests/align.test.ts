import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { alignFace, applySimilarity, fitSimilarity, invertSimilarity, warpToChip, type Similarity } from '../src/core/align.ts';
import { readImageFile } from '../src/core/decode.ts';
import { chipForModel } from '../src/core/faces.ts';
import { DLIB_CHIP_TEMPLATE } from '../src/core/models/faceRecognitionNet.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { cosine } from '../src/core/similarity.ts';
import type { Point, RgbImage } from '../src/core/types.ts';
import { loadPipeline } from './support/engine.ts';
import { scenesDir } from './support/paths.ts';

// Alignment: the similarity transform fitted to keypoints, the resampling through it, and what it is
// for: a rolled head comes out upright and describes as the same face.

let pipeline: Awaited<ReturnType<typeof loadPipeline>>;
before(async () => {
  pipeline = await loadPipeline();
});
after(async () => {
  await pipeline.dispose();
});

const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) <= eps;

test('fitSimilarity recovers a rotation, scale and shift exactly, and never mirrors', () => {
  const t: Similarity = { a: 0.5 * Math.cos(0.6), b: 0.5 * Math.sin(0.6), tx: 12, ty: -7 };
  const src: Point[] = [
    { x: 10, y: 20 },
    { x: 60, y: 22 },
    { x: 35, y: 50 },
    { x: 36, y: 80 },
  ];
  const fitted = fitSimilarity(src, src.map((p) => applySimilarity(t, p)));
  for (const k of ['a', 'b', 'tx', 'ty'] as const) assert.ok(close(fitted[k], t[k]), `${k}: ${fitted[k]} vs ${t[k]}`);
  const back = invertSimilarity(fitted);
  const p = applySimilarity(back, applySimilarity(fitted, { x: 3, y: 4 }));
  assert.ok(close(p.x, 3) && close(p.y, 4));
  // Mirrored targets get the best rotation, not a reflection: the fit then cannot be exact.
  const mirrored = fitSimilarity(src, src.map((q) => ({ x: -q.x, y: q.y })));
  assert.ok(Math.hypot(mirrored.a, mirrored.b) < 0.9);
  assert.throws(() => fitSimilarity([{ x: 1, y: 1 }], [{ x: 2, y: 2 }]), RangeError);
});

/** An image whose pixels encode their position: r = x, g = y (up to 255). */
function coordinates(width: number, height: number): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([Math.min(255, x), Math.min(255, y), 200], (y * width + x) * 3);
  return { data, width, height };
}

test('warpToChip samples through the transform, black outside the image, smooth when shrinking a lot', async () => {
  const image = coordinates(200, 200);
  // Chip pixel (u, v) shows image pixel (u + 40, v + 30).
  const shift = await warpToChip(image, { a: 1, b: 0, tx: -40, ty: -30 }, 50);
  assert.deepEqual([...shift.data.subarray(0, 3)], [40, 30, 200]);
  const at = (img: RgbImage, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
  assert.deepEqual(at(shift, 49, 49), [89, 79, 200]);
  // Reaching past the image's top left: black there.
  const outside = await warpToChip(image, { a: 1, b: 0, tx: 20, ty: 20 }, 50);
  assert.deepEqual(at(outside, 5, 5), [0, 0, 0]);
  // A quarter-size chip of the top-left 160x160: each chip pixel averages a 4x4 block, so it shows
  // the block's centre.
  const small = await warpToChip(image, { a: 0.25, b: 0, tx: 0, ty: 0 }, 40);
  const [r, g] = at(small, 10, 20);
  assert.ok(Math.abs(r! - 41.5) <= 1.5 && Math.abs(g! - 81.5) <= 1.5, `${r}, ${g}`);
});

for (const degrees of [35, -50]) test(`a head rolled ${degrees} degrees comes out upright and describes as the same face`, async () => {
  const decoded = await readImageFile(path.join(scenesDir, 'deepface_tests__integration_target.jpg'));
  assert.ok(decoded.ok);
  const upright = decoded.value;
  const rotated = await sharp(upright.data, { raw: { width: upright.width, height: upright.height, channels: 3 } })
    .rotate(degrees, { background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rolled = { data: rotated.data, width: rotated.info.width, height: rotated.info.height };

  const chips: RgbImage[] = [];
  for (const image of [upright, rolled]) {
    const [face] = await pipeline.detector.detect(image);
    assert.ok(face?.keypoints, 'found with keypoints');
    chips.push(await chipForModel(image, face, pipeline.embedder));
  }
  const { rightEye, leftEye } = (await pipeline.detector.detect(await scaleUp(chips[1]!)))[0]?.keypoints ?? assert.fail('a face in the chip');
  const roll = (Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x) * 180) / Math.PI;
  assert.ok(Math.abs(roll) < 5, `the chip's eyes are level: ${roll.toFixed(1)} degrees`);
  const [a, b] = await pipeline.embedder.predict(chips);
  console.log(`rolled ${degrees} degrees: chip roll ${roll.toFixed(1)} degrees, cosine to the upright photo's ${cosine(a!, b!).toFixed(4)}`);
  assert.ok(cosine(a!, b!) >= 0.97, `cosine ${cosine(a!, b!)}`);
});

test("the default model's chip puts the eyes where dlib's chips have them", async () => {
  const decoded = await readImageFile(path.join(scenesDir, 'faceapi_bbt__neutral.jpg'));
  assert.ok(decoded.ok);
  const [face] = await pipeline.detector.detect(decoded.value);
  assert.ok(face?.keypoints);
  const chip = await alignFace(decoded.value, face.keypoints, DLIB_CHIP_TEMPLATE, 150);
  const [again] = await pipeline.detector.detect(await scaleUp(chip));
  assert.ok(again?.keypoints, 'the chip is still a face');
  // Back in chip pixels (see scaleUp). The detector's keypoints are themselves a few pixels off, so
  // this catches a wrong template, swapped eyes or a scale error, not the last pixel.
  const eyeY = ((again.keypoints.rightEye.y + again.keypoints.leftEye.y) / 2 - BORDER) / 2;
  const eyeGap = (again.keypoints.leftEye.x - again.keypoints.rightEye.x) / 2;
  assert.ok(Math.abs(eyeY - DLIB_CHIP_TEMPLATE.rightEye.y * 150) < 8, `eyes at y ${eyeY.toFixed(1)}`);
  assert.ok(Math.abs(eyeGap - (DLIB_CHIP_TEMPLATE.leftEye.x - DLIB_CHIP_TEMPLATE.rightEye.x) * 150) < 10, `eye gap ${eyeGap.toFixed(1)}`);
});

/** Grey border around a doubled chip: a face filling its picture is where the detector reads keypoints worst. */
const BORDER = 150;

/** The chip doubled, on a grey picture: the detector sees it as a photo with a face in it. */
async function scaleUp(chip: RgbImage): Promise<RgbImage> {
  const { data, info } = await sharp(chip.data, { raw: { width: chip.width, height: chip.height, channels: 3 } })
    .resize(chip.width * 2, chip.height * 2)
    .extend({ top: BORDER, bottom: BORDER, left: BORDER, right: BORDER, background: { r: 128, g: 128, b: 128 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
