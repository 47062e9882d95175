import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeReply, type ComposeMatch } from '../src/core/compose.ts';
import { readImageFile } from '../src/core/decode.ts';
import { cropForDisplay } from '../src/core/faces.ts';
import type { DetectedFace, RgbImage } from '../src/core/types.ts';
import { loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { median } from './stats.ts';

// The reply picture as the bots send it: one row (the user's face, the best match, four runners-up),
// faces cut from the shared photos as the engine cuts them (320 px display crops), 800 px wide JPEG.
// Median time of composeReply over `runs` calls, and the size of the JPEG.
// `node --import tsx bench/replyPicture.ts [runs]`

export interface ReplyPictureBench {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  jpegKb: number;
  width: number;
  height: number;
}

async function faceOf(person: string, detect: (image: RgbImage) => Promise<DetectedFace[]>): Promise<RgbImage> {
  const file = path.join(peopleDir, person, readdirSync(path.join(peopleDir, person)).sort()[0]!);
  const image = await readImageFile(file);
  if (!image.ok) throw new Error(`${file}: ${image.error.message}`);
  const [face] = await detect(image.value);
  if (!face) throw new Error(`${file}: no face`);
  return cropForDisplay(image.value, face.box, 320);
}

export async function benchReplyPicture(runs = 20): Promise<ReplyPictureBench> {
  const pipeline = await loadPipeline();
  const detect = (image: RgbImage) => pipeline.detector.detect(image, { maxFaces: 1 });
  const [user, ...others] = await Promise.all(['Barack_Obama', 'Joe_Biden', 'Angelina_Jolie', 'Jim_Parsons', 'Kaley_Cuoco', 'Mayim_Bialik'].map((p) => faceOf(p, detect)));
  await pipeline.dispose();
  const names = ['Joe Biden', 'Angelina Jolie', 'Jim Parsons', 'Kaley Cuoco', 'Mayim Bialik'];
  const matches: ComposeMatch[] = others.map((face, i) => ({ name: names[i]!, similarity: 80 - 6 * i, face }));
  const row = { userFace: user!, best: matches[0]!, runnersUp: matches.slice(1) };
  let jpeg = await composeReply([row]);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    jpeg = await composeReply([row]);
    times.push(performance.now() - t);
  }
  const { sharp } = await import('../src/core/runtime/sharp.ts');
  const meta = await sharp(jpeg).metadata();
  return { runs, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), jpegKb: jpeg.length / 1024, width: meta.width, height: meta.height };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machine = `${os.cpus()[0]?.model.trim()} x${os.availableParallelism()}, load ${os.loadavg()[0]!.toFixed(1)}`;
  const b = await benchReplyPicture(Number(process.argv[2] ?? 20));
  console.log(`machine: ${machine}`);
  console.log(`reply picture, one row with 4 runners-up, ${b.width}x${b.height}: median ${b.medianMs.toFixed(0)} ms (${b.minMs.toFixed(0)}-${b.maxMs.toFixed(0)} over ${b.runs}), ${b.jpegKb.toFixed(0)} KB JPEG`);
}
