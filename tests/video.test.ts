import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tryOpenEngine } from '../src/core/engine.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { lastResult } from '../src/core/video/matchVideo.ts';
import { planInput } from '../src/core/video/mp4Layout.ts';
import { laplacianVariance } from '../src/core/video/sharpness.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { VideoInput } from '../src/core/video/types.ts';
import { buildPeopleIndex, config } from './support/engine.ts';
import { videosDir } from './support/paths.ts';

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
    assert.equal(main.sharpestFrame.data.length, main.sharpestFrame.width * main.sharpestFrame.height * 3);
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

test('sharpness: a blurred copy of a frame scores lower than the frame', async () => {
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-ss', '6', '-i', clip, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  const frame = { data: raw, width: 640, height: 360 };
  const blurred = { data: await sharp(raw, { raw: { width: 640, height: 360, channels: 3 } }).blur(3).raw().toBuffer(), width: 640, height: 360 };
  const box = { x: 160, y: 20, width: 160, height: 160 };
  assert.ok(laplacianVariance(frame, box) > 3 * laplacianVariance(blurred, box));
});
