import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { tryOpenEngine } from '../src/core/engine.ts';
import type { VideoInput } from '../src/core/video/types.ts';
import { buildPeopleIndex } from '../tests/support/engine.ts';
import { videosDir } from '../tests/support/paths.ts';
import { median, machine } from './stats.ts';

// The streaming video matcher on the 10-second Hamilton clip (640x360, sampled at 4 fps): frames
// processed per second, and the time from the first byte to the first update. Two inputs: the clip as
// it is (its MP4 index is at the end, so it is spooled to a temporary file first) and a fast-start copy
// piped into ffmpeg as it arrives.
// `node --import tsx bench/video.ts [runs]`

export interface VideoBenchRow {
  input: string;
  runs: number;
  frames: number;
  framesPerSecond: number;
  firstUpdateMs: number;
  totalMs: number;
}

async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export async function benchVideo(runs = 2): Promise<VideoBenchRow[]> {
  const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
  const { dataDir } = await buildPeopleIndex();
  const work = mkdtempSync(path.join(tmpdir(), 'lookalike-video-bench-'));
  const opened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  if (!opened.ok) throw new Error(opened.error.message);
  const engine = opened.value;
  try {
    const clip = path.join(videosDir, 'hamilton_clip.mp4');
    const faststart = path.join(work, 'faststart.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', '-movflags', '+faststart', faststart]);
    const inputs: [string, () => VideoInput][] = [
      ['hamilton_clip.mp4 (moov last: spooled)', () => inChunks(readFileSync(clip), 64 * 1024)],
      ['fast-start copy (piped)', () => inChunks(readFileSync(faststart), 64 * 1024)],
    ];
    const rows: VideoBenchRow[] = [];
    for (const [name, input] of inputs) {
      const first: number[] = [];
      const total: number[] = [];
      const fps: number[] = [];
      let frames = 0;
      for (let run = 0; run < runs; run++) {
        const started = performance.now();
        let firstAt = NaN;
        for await (const event of engine.matchVideo!(input(), { composite: true })) {
          if (event.kind === 'update') {
            if (Number.isNaN(firstAt)) firstAt = performance.now() - started;
            continue;
          }
          if (!event.result.ok) throw new Error(event.result.error.message);
          const ms = performance.now() - started;
          frames = event.result.value.framesProcessed;
          first.push(firstAt);
          total.push(ms);
          fps.push(frames / (ms / 1000));
        }
      }
      rows.push({ input: name, runs, frames, framesPerSecond: median(fps), firstUpdateMs: median(first), totalMs: median(total) });
    }
    return rows;
  } finally {
    await engine.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machineLine = machine();
  const rows = await benchVideo(Number(process.argv[2] ?? 2));
  console.log(`machine: ${machineLine}\n\n| input | frames (4 fps) | frames processed / s | first update (ms) | whole clip (ms) |\n|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.input} | ${r.frames} | ${r.framesPerSecond.toFixed(1)} | ${r.firstUpdateMs.toFixed(0)} | ${r.totalMs.toFixed(0)} |`);
}
