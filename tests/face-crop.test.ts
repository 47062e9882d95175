import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cropFace, squareCropRegion, DEFAULT_FACE_MARGIN } from '../src/core/faceCrop.ts';
import { readImageFile } from '../src/core/decode.ts';
import { detectFacesHaar } from '../src/core/detect/haar.ts';
import type { RgbImage } from '../src/core/types.ts';
import { peopleDir } from './support/paths.ts';

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

/** Solid image whose pixel colour encodes its position: r = x, g = y (for images up to 256 px). */
function coordinateImage(width: number, height: number): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x, y, 255], (y * width + x) * 3);
  }
  return { data, width, height };
}

test('square region: centred on the box, side grown by the margin on each side', () => {
  const r = squareCropRegion({ x: 100, y: 100, width: 100, height: 100 }, 1000, 1000, 0.25, 0);
  assert.deepEqual({ x: r.x, y: r.y, size: r.size }, { x: 75, y: 75, size: 150 });
  assert.deepEqual(r.inside, { x: 75, y: 75, width: 150, height: 150 });
  assert.deepEqual(r.pad, { left: 0, top: 0, right: 0, bottom: 0 });
});

test('square region: a non-square box gives a square on its long side, same centre', () => {
  const r = squareCropRegion({ x: 200, y: 100, width: 40, height: 80 }, 1000, 1000, 0, 0);
  assert.equal(r.size, 80);
  assert.equal(r.x + r.size / 2, 220);
  assert.equal(r.y + r.size / 2, 140);
});

test('square region: reaching past the corner gives padding on those sides only', () => {
  const r = squareCropRegion({ x: 0, y: 0, width: 50, height: 50 }, 200, 100, 0.5, 0);
  assert.equal(r.size, 100);
  assert.deepEqual({ x: r.x, y: r.y }, { x: -25, y: -25 });
  assert.deepEqual(r.pad, { left: 25, top: 25, right: 0, bottom: 0 });
  assert.deepEqual(r.inside, { x: 0, y: 0, width: 75, height: 75 });

  const far = squareCropRegion({ x: 150, y: 60, width: 50, height: 40 }, 200, 100, 0.5, 0);
  assert.equal(far.pad.right, far.x + far.size - 200);
  assert.equal(far.pad.bottom, far.y + far.size - 100);
  assert.equal(far.inside.x + far.inside.width, 200);
  assert.equal(far.inside.y + far.inside.height, 100);
});

test('square region: a box larger than the image pads all four sides', () => {
  const r = squareCropRegion({ x: 0, y: 0, width: 100, height: 100 }, 100, 100, 0.2, 0);
  assert.equal(r.size, 140);
  assert.deepEqual(r.pad, { left: 20, top: 20, right: 20, bottom: 20 });
  assert.deepEqual(r.inside, { x: 0, y: 0, width: 100, height: 100 });
});

test('square region: refuses empty boxes, negative margins and boxes off the image', () => {
  assert.throws(() => squareCropRegion({ x: 0, y: 0, width: 0, height: 10 }, 100, 100), RangeError);
  assert.throws(() => squareCropRegion({ x: 0, y: 0, width: 10, height: 10 }, 100, 100, -0.1), RangeError);
  assert.throws(() => squareCropRegion({ x: 500, y: 500, width: 10, height: 10 }, 100, 100), RangeError);
});

test('square region defaults: centred on the box, grown by the default margin', () => {
  const box = { x: 100, y: 100, width: 200, height: 200 };
  const r = squareCropRegion(box, 1000, 1000);
  assert.equal(r.size, Math.round(200 * (1 + 2 * DEFAULT_FACE_MARGIN)));
  assert.equal(r.x + r.size / 2, 200);
  assert.equal(r.y + r.size / 2, 200);
  assert.ok(DEFAULT_FACE_MARGIN >= 0 && DEFAULT_FACE_MARGIN < 0.3);
});

test('square region: centreShift moves the square down by a fraction of the box height', () => {
  const r = squareCropRegion({ x: 100, y: 100, width: 200, height: 200 }, 1000, 1000, 0, 0.06);
  assert.equal(r.size, 200);
  assert.equal(r.x, 100);
  assert.equal(r.y, 112);
});

test('cropFace takes exactly the region inside the image', async () => {
  const img = coordinateImage(200, 200);
  // margin 0: the 50x50 square at (100, 20), resized 1:1.
  const out = await cropFace(img, { x: 100, y: 20, width: 50, height: 50 }, { size: 50, margin: 0, centreShift: 0 });
  assert.equal(out.width, 50);
  assert.equal(out.height, 50);
  assert.equal(out.data.length, 50 * 50 * 3);
  assert.deepEqual(pixel(out, 0, 0), [100, 20, 255]);
  assert.deepEqual(pixel(out, 49, 49), [149, 69, 255]);
});

test('cropFace pads with black by default and with the edge when asked', async () => {
  const img = coordinateImage(100, 100);
  const box = { x: 0, y: 0, width: 40, height: 40 };
  // margin 0.5: square 80 at (-20, -20), so the first 20 rows and columns are outside the image.
  const black = await cropFace(img, box, { size: 80, margin: 0.5, centreShift: 0 });
  assert.deepEqual(pixel(black, 5, 5), [0, 0, 0]);
  assert.deepEqual(pixel(black, 40, 40), [20, 20, 255]);
  const edge = await cropFace(img, box, { size: 80, margin: 0.5, centreShift: 0, padding: 'replicate' });
  assert.deepEqual(pixel(edge, 5, 5), [0, 0, 255], 'the corner pixel repeated');
  assert.deepEqual(pixel(edge, 5, 40), [0, 20, 255], 'the left column repeated');
});

test('cropFace gives a 150x150 chip of a face the Haar cascade found', async () => {
  const decoded = await readImageFile(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg'));
  assert.ok(decoded.ok);
  const [face] = await detectFacesHaar(decoded.value);
  assert.ok(face, 'a face is found');
  const chip = await cropFace(decoded.value, face.box, { size: 150 });
  assert.equal(chip.width, 150);
  assert.equal(chip.height, 150);
  // The face sits well inside this photo, so no black padding reaches the chip's corners.
  const corners = [pixel(chip, 0, 0), pixel(chip, 149, 0), pixel(chip, 0, 149), pixel(chip, 149, 149)];
  assert.ok(corners.some((c) => c.some((v) => v > 10)), 'corners come from the photo');
});
