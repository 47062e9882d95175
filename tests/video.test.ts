import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tryOpenEngine } from '../src/core/engine.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { fail } from '../src/core/result.ts';
import { decodeFrames } from '../src/core/video/ffmpegFrames.ts';
import { lastResult, VIDEO_DEFAULTS } from '../src/core/video/matchVideo.ts';
import { FaceTracker } from '../src/core/video/tracker.ts';
import { planInput } from '../src/core/video/mp4Layout.ts';
import { laplacianVariance } from '../src/core/video/sharpness.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { VideoInput } from '../src/core/video/types.ts';
import { buildPeopleIndex, config } from './support/engine.ts';
import { peopleDir, videosDir } from './support/paths.ts';
import { rng } from './support/vggFace.ts';

const clip = path.join(videosDir, 'hamilton_clip.mp4');
const work = mkdtempSync(path.join(tmpdir(), 'lookalike-video-test-'));
let engine: LookalikeEngine;
let dataDir: string;

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

function matchVideo(input: VideoInput, opts = {}) {
  return engine.matchVideo!(input, opts);
}

before(async () => {
  dataDir = (await buildPeopleIndex()).dataDir;
  const opened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  if (!opened.ok) throw new Error(opened.error.message);
  engine = opened.value;
});

after(async () => {
  await engine?.close();
  rmSync(work, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('video matching', () => {
  test('the main track of the Hamilton clip is Lin-Manuel Miranda, with a reply picture', async () => {
    const updates: number[] = [];
    const result = await lastResult(matchVideo(readFileSync(clip)), (u) => {
      updates.push(u.framesProcessed);
    });
    assert.ok(result.ok, result.ok ? '' : result.error.message);
    const report = result.value;
    // The clip's index sits at the end of the file: it cannot be piped, so it is spooled.
    assert.equal(planInput(readFileSync(clip).subarray(0, 4096), false), 'spool');
    assert.equal(report.spooled, true);
    assert.ok(report.framesProcessed >= 30, `${report.framesProcessed} frames`);
    assert.deepEqual(updates, Array.from({ length: report.framesProcessed }, (_, i) => i + 1));
    const main = report.tracks[0]!;
    assert.equal(main.matches[0]?.name, 'Lin Manuel Miranda');
    // Crowd shots come and go; Lin-Manuel is the face seen largest for longest.
    assert.ok(main.frames >= 4, `main track seen in ${main.frames} frames`);
    assert.ok(report.tracks.length >= 2, 'the audience faces are tracks of their own');
    assert.ok(main.sharpness > 0);
    // The track keeps its face with room around it, not the whole 640x360 frame.
    const crop = main.sharpestCrop;
    assert.equal(crop.data.length, crop.width * crop.height * 3);
    assert.ok(crop.width * crop.height < 640 * 360, `a ${crop.width}x${crop.height} crop`);
    const inCrop = main.sharpestCropBox;
    assert.ok(inCrop.x >= 0 && inCrop.y >= 0 && inCrop.x + inCrop.width <= crop.width && inCrop.y + inCrop.height <= crop.height, 'the face lies inside its crop');
    assert.ok(report.composite && report.composite[0] === 0xff && report.composite[1] === 0xd8, 'composite is a JPEG');
  });

  test('frames are matched while the bytes are still arriving', async () => {
    // A fast-start copy (index first) can be piped into ffmpeg as it arrives.
    const faststart = path.join(work, 'faststart.mp4');
    ffmpeg('-i', clip, '-c', 'copy', '-movflags', '+faststart', faststart);
    const bytes = readFileSync(faststart);
    assert.equal(planInput(bytes.subarray(0, 4096), false), 'pipe');
    const chunks = 24;
    let written = 0;
    let lastChunkWritten = false;
    async function* slowly(): AsyncGenerator<Uint8Array> {
      const size = Math.ceil(bytes.length / chunks);
      for (let at = 0; at < bytes.length; at += size) {
        await new Promise((r) => setTimeout(r, 150));
        yield bytes.subarray(at, at + size);
        written++;
      }
      lastChunkWritten = true;
    }
    let firstUpdateAt: { written: number; lastChunkWritten: boolean } | null = null;
    for await (const event of matchVideo(slowly())) {
      assert.equal(event.kind, 'update', event.kind === 'result' && !event.result.ok ? event.result.error.message : '');
      firstUpdateAt = { written, lastChunkWritten };
      break; // Stopping early also stops ffmpeg.
    }
    assert.ok(firstUpdateAt, 'an update came');
    assert.equal(firstUpdateAt.lastChunkWritten, false);
    assert.ok(firstUpdateAt.written < chunks, `first update after ${firstUpdateAt.written} of ${chunks} chunks`);
  });

  test('a GIF (spooled: ffmpeg cannot probe one from a pipe) and a WebM (piped) are read too', async () => {
    const gif = path.join(work, 'clip.gif');
    ffmpeg('-ss', '5', '-t', '1', '-i', clip, '-vf', 'scale=320:-2', gif);
    const webm = path.join(work, 'clip.webm');
    ffmpeg('-ss', '5', '-t', '1', '-i', clip, '-c:v', 'libvpx', '-b:v', '300k', '-deadline', 'realtime', webm);
    for (const [file, spooled] of [[gif, true], [webm, false]] as const) {
      const result = await lastResult(matchVideo(readFileSync(file), { composite: false }));
      assert.ok(result.ok, `${file}: ${result.ok ? '' : result.error.code}`);
      assert.equal(result.value.spooled, spooled, file);
      assert.ok(result.value.framesProcessed >= 3, `${file}: ${result.value.framesProcessed} frames`);
    }
  });

  test('a still GIF (one frame, shorter than a sampling interval) is read, not called damaged', async () => {
    const still = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#c33' } }).gif().toBuffer();
    const result = await lastResult(matchVideo(still, { composite: false }));
    assert.equal(result.ok ? 'ok' : result.error.code, 'no_face', 'watched (one frame, no face in it)');
  });

  test('broken and non-video inputs give their own failure codes', async () => {
    const full = readFileSync(clip);
    const truncated = full.subarray(0, Math.floor(full.length / 2));
    const audio = path.join(work, 'audio.m4a');
    ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac', audio);
    const subtitlesOnly = path.join(work, 'subs.mkv');
    writeFileSync(path.join(work, 'subs.srt'), '1\n00:00:00,000 --> 00:00:01,000\nhello\n');
    ffmpeg('-i', path.join(work, 'subs.srt'), subtitlesOnly);
    const long = path.join(work, 'long.mp4');
    ffmpeg('-f', 'lavfi', '-i', 'color=c=gray:s=64x64:r=2:d=65', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', long);
    const cases: [string, Uint8Array, string][] = [
      ['truncated MP4', truncated, 'corrupt_video'],
      ['audio only', readFileSync(audio), 'no_video_stream'],
      ['no video stream (subtitles only)', readFileSync(subtitlesOnly), 'no_video_stream'],
      ['text', Buffer.from('this is not a video at all, just some words\n'.repeat(20)), 'not_a_video'],
      ['empty', new Uint8Array(), 'empty_file'],
      ['65 seconds', readFileSync(long), 'video_too_long'],
    ];
    for (const [what, bytes, code] of cases) {
      const result = await lastResult(matchVideo(bytes));
      assert.equal(result.ok ? 'ok' : result.error.code, code, what);
    }
    const tooBig = await lastResult(matchVideo(full, { maxBytes: 100_000 }));
    assert.equal(tooBig.ok ? 'ok' : tooBig.error.code, 'file_too_large');
  });
});

describe('limits: length, pixels, tracks, and stopping', () => {
  // A real-sized clip (several MB, far beyond a pipe's 64 KB buffer) that is too long: ffmpeg is
  // stopped from its header while the input is still being written to it.
  let long90: Buffer;
  let long90IndexLast: Buffer;
  before(() => {
    const file = path.join(work, 'long90.mp4');
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=480x270:r=25:d=90', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '30', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', file);
    long90 = readFileSync(file);
    const last = path.join(work, 'long90-last.mp4');
    ffmpeg('-i', file, '-c', 'copy', last);
    long90IndexLast = readFileSync(last);
  });

  async function* inChunks(bytes: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < bytes.length; at += size) {
      yield bytes.subarray(at, at + size);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  test('a 90 s clip is video_too_long, not corrupt: as one buffer and streamed, index first and index last', { timeout: 120_000 }, async () => {
    assert.ok(long90.length > 2 * 1024 * 1024, `${long90.length} bytes`);
    assert.equal(planInput(long90.subarray(0, 4096), false), 'pipe');
    assert.equal(planInput(long90IndexLast.subarray(0, 4096), false), 'spool');
    const cases: [string, VideoInput][] = [
      ['one buffer, index first', long90],
      ['streamed, index first', inChunks(long90)],
      ['one buffer, index last', long90IndexLast],
      ['streamed, index last', inChunks(long90IndexLast)],
    ];
    for (const [what, input] of cases) {
      const result = await lastResult(matchVideo(input, { maxBytes: 20 * 1024 * 1024 }));
      assert.equal(result.ok ? 'ok' : result.error.code, 'video_too_long', what);
    }
  });

  test('a tall 1080x7680 video is scaled within the pixel limit, not just to 640 px wide', { timeout: 120_000 }, async () => {
    const tall = path.join(work, 'tall.mp4');
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1080x7680:r=4:d=1', '-c:v', 'libx264', '-preset', 'ultrafast', tall);
    const sizes: string[] = [];
    const frames = decodeFrames(readFileSync(tall), { fps: 4, maxSeconds: 60, maxBytes: 20 * 1024 * 1024, maxWidth: 640, maxPixels: VIDEO_DEFAULTS.maxPixels });
    for (;;) {
      const next = await frames.next();
      if (next.done) {
        assert.ok(next.value.ok, next.value.ok ? '' : next.value.error.message);
        break;
      }
      const { width, height, data } = next.value.image;
      sizes.push(`${width}x${height}`);
      assert.equal(data.length, width * height * 3);
      assert.ok(width * height <= VIDEO_DEFAULTS.maxPixels, `a ${width}x${height} frame is over ${VIDEO_DEFAULTS.maxPixels} pixels`);
      assert.ok(Math.abs(width / height - 1080 / 7680) < 0.01, `aspect kept: ${width}x${height}`);
    }
    assert.ok(sizes.length >= 4, sizes.join(', '));
    // An ordinary landscape video keeps its 640 px width.
    const wide = decodeFrames(readFileSync(clip), { fps: 1, maxSeconds: 60, maxBytes: 20 * 1024 * 1024, maxWidth: 640, maxPixels: VIDEO_DEFAULTS.maxPixels });
    const first = await wide.next();
    await wide.return(fail('corrupt_video', 'stopped'));
    assert.ok(!first.done && first.value.image.width === 640, 'the Hamilton clip stays 640 px wide');
  });

  test('face tracks are capped, the least prominent dropped; a track keeps a crop of its face, never a frame', () => {
    const frame = { data: Buffer.alloc(640 * 360 * 3, 90), width: 640, height: 360 };
    const next = rng(7);
    const randomDescriptor = () => Float32Array.from({ length: 128 }, () => next() - 0.5);
    const tracker = new FaceTracker({ nearCosine: 0.95, farCosine: 0.99, minIou: 0.3, maxMissed: 8, maxTracks: 6 });
    // One face that stays (large, the same descriptor), and a crowd of strangers that never repeat.
    const main = { box: { x: 40, y: 40, width: 160, height: 160 }, descriptor: randomDescriptor(), source: 'blazeface' as const };
    for (let i = 0; i < 60; i++) {
      const strangers = [0, 1, 2].map((k) => ({ box: { x: 260 + k * 120, y: 100 + ((i * 7) % 60), width: 60, height: 60 }, descriptor: randomDescriptor(), source: 'blazeface' as const }));
      tracker.update([main, ...strangers], frame, i, i / 4);
      assert.ok(tracker.tracks.length <= 6, `frame ${i}: ${tracker.tracks.length} tracks`);
    }
    const [top] = tracker.ranked();
    assert.equal(top!.frames, 60, 'the face seen throughout survives every drop');
    for (const t of tracker.tracks) {
      const crop = t.sharpestCrop!;
      assert.ok(crop.width < frame.width && crop.height < frame.height, `track ${t.id} keeps a ${crop.width}x${crop.height} crop`);
      assert.ok(crop.data.buffer !== frame.data.buffer, 'a copy, not a view that would keep the frame alive');
      assert.ok(crop.width >= t.sharpestBox.width && crop.height >= t.sharpestBox.height);
    }
  });

  test('aborting a video match kills ffmpeg and ends the iteration with the abort', { timeout: 120_000 }, async () => {
    const controller = new AbortController();
    let updates = 0;
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for await (const event of matchVideo(readFileSync(clip), { signal: controller.signal })) {
          if (event.kind === 'result') return event;
          updates++;
          if (updates === 1) controller.abort(new Error('request timed out'));
        }
      })(),
      /request timed out/,
    );
    assert.equal(updates, 1, 'no frame was processed after the abort');
    assert.ok(performance.now() - started < 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const children = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'comm=']).toString();
    assert.doesNotMatch(children, /ffmpeg/, 'ffmpeg was stopped');
  });

  test('aborting a photo match stops it between stages', { timeout: 120_000 }, async () => {
    const photo = readFileSync(path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!));
    await assert.rejects(engine.match(photo, { signal: AbortSignal.abort(new Error('already over')) }), /already over/);
    const controller = new AbortController();
    const matching = engine.match(photo, { signal: controller.signal });
    setImmediate(() => controller.abort(new Error('timed out while decoding')));
    await assert.rejects(matching, /timed out while decoding/);
    const whole = await engine.match(photo, { composite: false, signal: new AbortController().signal });
    assert.ok(whole.ok, 'a signal that never aborts changes nothing');
  });
});

test('sharpness: a blurred copy of a frame scores lower than the frame', async () => {
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-ss', '6', '-i', clip, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  const frame = { data: raw, width: 640, height: 360 };
  const blurred = { data: await sharp(raw, { raw: { width: 640, height: 360, channels: 3 } }).blur(3).raw().toBuffer(), width: 640, height: 360 };
  const box = { x: 160, y: 20, width: 160, height: 160 };
  assert.ok(laplacianVariance(frame, box) > 3 * laplacianVariance(blurred, box));
});
