import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config.ts';
import { tryOpenEngine } from '../src/core/engine.ts';

// One video matched in a process of its own, for bench/videoMemory.ts: `<dataDir> <clip>`. Prints one
// JSON line: resident memory once the engine is loaded and at its peak (VmHWM), frames, tracks, time.

function statusMb(field: string): number {
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const [dataDir, clip] = process.argv.slice(2);
const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
const opened = await tryOpenEngine({ dataDir: dataDir!, modelsDir: config.modelsDir, device: 'cpu' });
if (!opened.ok) throw new Error(opened.error.message);
const engine = opened.value;
const bytes = readFileSync(clip!);
const baselineMb = statusMb('VmRSS');
const started = performance.now();
let frames = 0;
let tracks = 0;
let size = '';
let outcome = 'ok';
for await (const event of engine.matchVideo!(bytes, { maxBytes: 64 * 1024 * 1024 })) {
  if (event.kind === 'update') {
    frames = event.update.framesProcessed;
    continue;
  }
  if (!event.result.ok) {
    outcome = event.result.error.code;
    continue;
  }
  tracks = event.result.value.tracks.length;
  const crop = event.result.value.tracks[0]?.sharpestCrop;
  size = crop ? `${crop.width}x${crop.height}` : '';
}
await engine.close();
console.log(JSON.stringify({ outcome, baselineMb, peakMb: statusMb('VmHWM'), frames, tracks, mainCrop: size, seconds: (performance.now() - started) / 1000 }));
