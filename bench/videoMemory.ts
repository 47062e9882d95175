import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPeopleIndex } from '../tests/support/engine.ts';
import { peopleDir, videosDir } from '../tests/support/paths.ts';
import { machine } from './stats.ts';

// Peak memory of matching one video, each in a fresh process (bench/videoMemoryChild.ts): the Hamilton
// clip (640x360, 10 s), and a crafted 1080x7680 clip (10 s of a 1080p photo with a face, scaled to
// 1080 wide and stacked twelve times). Frames are capped at 640 px wide and 640 x 1138
// pixels, tracks at 24, and a track keeps a crop of its face, not its frame.
// `node --import tsx bench/videoMemory.ts`

export interface VideoMemoryRow {
  clip: string;
  /** 'ok', or the failure code (a clip whose faces are too small to find is still measured). */
  outcome: string;
  megabytes: number;
  frames: number;
  tracks: number;
  /** Resident memory with the engine loaded, before the video. */
  baselineMb: number;
  /** Peak resident memory of the process (VmHWM). */
  peakMb: number;
  seconds: number;
}

const TILES = Array.from({ length: 12 }, (_, i) => `[t${i}]`).join('');

export async function benchVideoMemory(): Promise<VideoMemoryRow[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'lookalike-video-memory-'));
  const { dataDir } = await buildPeopleIndex((file) => !/Lin_Manuel_Miranda|Barack_Obama|Joe_Biden|Alex_Lacamoire/.test(file));
  try {
    const tall = path.join(work, 'tall-1080x7680.mp4');
    execFileSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', '8', '-t', '10', '-i', path.join(peopleDir, 'Barack_Obama', 'face_recognition__obama-1080p.jpg'),
      '-filter_complex', `[0]scale=1080:608,setsar=1,split=12${TILES};${TILES}vstack=inputs=12,pad=1080:7680,format=yuv420p`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', tall,
    ]);
    const clips: [string, string][] = [
      ['hamilton_clip.mp4 (640x360, 10 s)', path.join(videosDir, 'hamilton_clip.mp4')],
      ['crafted 1080x7680, 10 s', tall],
    ];
    const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'videoMemoryChild.ts');
    const rows: VideoMemoryRow[] = [];
    for (const [name, file] of clips) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', child, dataDir, file], { env: { ...process.env, LOG_LEVEL: 'warn' } }).toString();
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as Omit<VideoMemoryRow, 'clip' | 'megabytes'>;
      rows.push({ clip: name, megabytes: statSync(file).size / 2 ** 20, ...r });
    }
    return rows;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machineLine = machine();
  const rows = await benchVideoMemory();
  console.log(`machine: ${machineLine}\n\n| clip | MB | outcome | frames | tracks | RSS, engine loaded (MiB) | peak RSS (MiB) | seconds |\n|---|---|---|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.clip} | ${r.megabytes.toFixed(1)} | ${r.outcome} | ${r.frames} | ${r.tracks} | ${r.baselineMb.toFixed(0)} | ${r.peakMb.toFixed(0)} | ${r.seconds.toFixed(1)} |`);
}
