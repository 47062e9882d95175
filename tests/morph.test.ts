import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { alignFace } from '../src/core/align.ts';
import { encodeMp4 } from '../src/core/animation.ts';
import { decodeImage } from '../src/core/decode.ts';
import { indexDir } from '../src/core/engine.ts';
import { Gallery } from '../src/core/gallery.ts';
import { MORPH_TEMPLATE, morphFrames, warpMesh } from '../src/core/morph.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { RgbImage } from '../src/core/types.ts';
import { loadPipeline } from './support/engine.ts';
import { buildGenderedGallery, selfieOf, type GenderedGallery } from './support/genderedGallery.ts';

// The morph: an animation from the user's aligned face to their best match's and back, about two
// seconds, small enough for Telegram's inline animations (10 MB), starting on the user's face and
// turning on the match's.

const run = promisify(execFile);
const SIZE = 256;
const TELEGRAM_ANIMATION_LIMIT = 10 * 1024 * 1024;

let g: GenderedGallery;
let pipeline: Awaited<ReturnType<typeof loadPipeline>>;
let work: string;

before(async () => {
  [g, pipeline] = await Promise.all([buildGenderedGallery(), loadPipeline()]);
  work = mkdtempSync(path.join(tmpdir(), 'lookalike-morph-'));
});

after(async () => {
  await Promise.all([g?.close(), pipeline?.dispose()]);
  rmSync(work, { recursive: true, force: true });
});

/** Mean absolute difference per channel value, 0..255. */
function meanDiff(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** A face aligned to the morph template, as the morph's end frames must show it. */
async function alignedFace(image: RgbImage): Promise<Buffer> {
  const [face] = await pipeline.detector.detect(image, { maxFaces: 1 });
  assert.ok(face?.keypoints, 'the face has keypoints');
  return (await alignFace(image, face.keypoints, MORPH_TEMPLATE, SIZE)).data;
}

async function userAndMatchFaces(person: string, matchName: string): Promise<{ user: Buffer; match: Buffer }> {
  const decoded = await decodeImage(await readFile(selfieOf(person)));
  assert.ok(decoded.ok);
  const gallery = await Gallery.open(indexDir(g.dataDir));
  assert.ok(gallery.ok);
  // The matched face is the person's best face in the index; either of their faces gives the same check.
  const ids = gallery.value.facesOf(matchName);
  const thumbs = await Promise.all(ids.map(async (id) => (await decodeImage(gallery.value.thumbnail(id)!)) as { ok: true; value: RgbImage }));
  return { user: await alignedFace(decoded.value), match: await Promise.all(thumbs.map((t) => alignedFace(t.value))).then((all) => all[0]!) };
}

test('GIF: about 2 s of frames, first frame the user aligned, the turning frame the match aligned, under 10 MB', async () => {
  const result = await g.engine.morph(await readFile(selfieOf('Jim_Parsons')), { format: 'gif' });
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  const report = result.value;
  assert.equal(report.method, 'warp');
  assert.equal(report.match.name, 'Jim Parsons');
  assert.ok(report.durationMs >= 1500 && report.durationMs <= 3000, `${report.durationMs} ms`);
  assert.ok(report.animation.length < TELEGRAM_ANIMATION_LIMIT, `${report.animation.length} bytes`);

  const meta = await sharp(report.animation, { animated: true }).metadata();
  assert.equal(meta.format, 'gif');
  assert.equal(meta.pages, report.frames);
  assert.equal(meta.width, SIZE);
  const delays = meta.delay ?? [];
  assert.ok(Math.abs(delays.reduce((a, b) => a + b, 0) - report.durationMs) <= 10 * report.frames, `delays sum ${delays.reduce((a, b) => a + b, 0)}`);
  const frame = (i: number) => sharp(report.animation, { page: i }).removeAlpha().raw().toBuffer();

  const { user, match } = await userAndMatchFaces('Jim_Parsons', 'Jim Parsons');
  const first = await frame(0);
  const turn = await frame(16);
  assert.ok(meanDiff(first, user) < 8, `first frame vs the aligned user face: ${meanDiff(first, user).toFixed(1)}`);
  assert.ok(meanDiff(turn, match) < meanDiff(turn, user), 'the turning frame is the match, not the user');
  assert.ok(meanDiff(await frame(8), first) > 2, 'the middle frames move');
});

test('MP4 for Telegram: H.264, about 2 s, under 10 MB, starts on the user face', async () => {
  const result = await g.engine.morph(await readFile(selfieOf('Kaley_Cuoco')), { format: 'mp4', gender: 'female' });
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  const { animation } = result.value;
  assert.ok(animation.length < TELEGRAM_ANIMATION_LIMIT);
  const file = path.join(work, 'morph.mp4');
  writeFileSync(file, animation);
  const probe = JSON.parse(
    (await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,pix_fmt:format=duration', '-of', 'json', file])).stdout,
  ) as { streams: { codec_name: string; width: number; height: number; pix_fmt: string }[]; format: { duration: string } };
  assert.deepEqual(probe.streams.map((s) => [s.codec_name, s.width, s.height, s.pix_fmt]), [['h264', SIZE, SIZE, 'yuv420p']]);
  const seconds = Number(probe.format.duration);
  assert.ok(seconds >= 1.5 && seconds <= 3, `${seconds} s`);
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 24 });
  const { user } = await userAndMatchFaces('Kaley_Cuoco', 'Kaley Cuoco');
  assert.ok(meanDiff(stdout as unknown as Buffer, user) < 10, `first MP4 frame vs the aligned user face: ${meanDiff(stdout as unknown as Buffer, user).toFixed(1)}`);
});

test('a morph stops when its request is over: before it starts, and in the MP4 encoder (ffmpeg killed)', async () => {
  await assert.rejects(g.engine.morph(await readFile(selfieOf('Jim_Parsons')), { signal: AbortSignal.abort(new Error('already over')) }), /already over/);
  // Noise, so that x264 takes seconds over it: the abort comes while ffmpeg is still encoding.
  const noise = (seed: number) => Buffer.from(Array.from({ length: SIZE * SIZE * 3 }, (_, i) => ((i * 2654435761 + seed * 40503) >>> 13) & 255));
  const frames = { size: SIZE, frames: Array.from({ length: 120 }, (_, i) => noise(i)), delays: new Array<number>(120).fill(100) };
  const controller = new AbortController();
  const encoding = encodeMp4(frames, { signal: controller.signal });
  setTimeout(() => controller.abort(new Error('timed out while encoding')), 100);
  await assert.rejects(encoding, /timed out while encoding/);
  const { stdout } = await run('ps', ['--ppid', String(process.pid), '-o', 'comm=']);
  assert.ok(!/ffmpeg/.test(stdout), `no ffmpeg left running: ${stdout}`);
});

test('morph frames: exact ends; without keypoints a cross-dissolve; the mesh warp moves features to their targets', async () => {
  const solid = (r: number): RgbImage => ({ data: Buffer.alloc(64 * 64 * 3, r), width: 64, height: 64 });
  const frames = await morphFrames({ image: solid(10), keypoints: null }, { image: solid(210), keypoints: null }, { size: 64, steps: 4 });
  assert.equal(frames.method, 'dissolve');
  assert.equal(frames.frames.length, 4 + 1 + 3);
  assert.equal(frames.frames[0]![0], 10);
  assert.equal(frames.frames[4]![0], 210);
  assert.equal(frames.frames[2]![0], 110);

  // A bright dot at the right eye's place in the source lands where the target mesh puts that eye.
  const size = 64;
  const img: RgbImage = { data: Buffer.alloc(size * size * 3), width: size, height: size };
  const dot = (x: number, y: number) => {
    for (let v = y - 1; v <= y + 1; v++) for (let u = x - 1; u <= x + 1; u++) img.data.fill(255, (v * size + u) * 3, (v * size + u) * 3 + 3);
  };
  const border = [[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [0.5, 1], [0, 1], [0, 0.5]].map(([x, y]) => ({ x: x! * size, y: y! * size }));
  const features = (dx: number) => [MORPH_TEMPLATE.rightEye, MORPH_TEMPLATE.leftEye, MORPH_TEMPLATE.nose, MORPH_TEMPLATE.mouth].map((p) => ({ x: p.x * size + dx, y: p.y * size }));
  const src = [...border, ...features(0)];
  const dst = [...border, ...features(4)];
  dot(Math.round(src[8]!.x), Math.round(src[8]!.y));
  const warped = warpMesh(img, src, dst);
  const at = (x: number, y: number) => warped[(Math.round(y) * size + Math.round(x)) * 3]!;
  assert.ok(at(dst[8]!.x, dst[8]!.y) > 150, 'the dot moved with the eye');
  assert.ok(at(src[8]!.x - 2, src[8]!.y) < 100, 'and left its old place');
});
