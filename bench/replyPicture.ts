import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearSpriteCache } from '../src/core/compose-layers.ts';
import { composeReply, tileSizes, type ComposeMatch, type ComposeRow } from '../src/core/compose.ts';
import { readImageFile } from '../src/core/decode.ts';
import { thumbnailJpeg, thumbnailTiles } from '../src/core/tiles.ts';
import { cropForDisplay } from '../src/core/faces.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { DetectedFace, RgbImage } from '../src/core/types.ts';
import { loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { cpuMs, loadNow, machine, median } from './stats.ts';

// The reply picture as the bots send it: one row (the user's face, the best match, four runners-up),
// 800 px wide JPEG. The faces come as the engine hands them over: the user's cut from the photo at
// its tile's size, the matches decoded from gallery thumbnails (as an index build writes them) at
// theirs. Times composeReply alone: warm (the layout, names and percentages drawn before, as in a
// running bot) and cold (every cache emptied first), and sweeps the JPEG encoder settings on the same
// picture: size, time and PSNR against the lossless picture.
// `node --import tsx bench/replyPicture.ts [runs]`

export interface JpegSetting {
  name: string;
  kb: number;
  cpuMs: number;
  psnrDb: number;
}

export interface ReplyPictureBench {
  runs: number;
  /** Median wall ms, and CPU ms (all threads), with everything drawn before. */
  medianMs: number;
  cpuMs: number;
  minMs: number;
  maxMs: number;
  /** Median wall ms with the layout drawn before but names never seen (a new user's reply). */
  newNamesMedianMs: number;
  /** Median wall ms with the layout and sprite caches emptied before each call. */
  coldMedianMs: number;
  jpegKb: number;
  width: number;
  height: number;
  load: string;
  jpeg: JpegSetting[];
}

async function faceOf(person: string, detect: (image: RgbImage) => Promise<DetectedFace[]>): Promise<{ image: RgbImage; face: DetectedFace }> {
  const file = path.join(peopleDir, person, readdirSync(path.join(peopleDir, person)).sort()[0]!);
  const image = await readImageFile(file);
  if (!image.ok) throw new Error(`${file}: ${image.error.message}`);
  const [face] = await detect(image.value);
  if (!face) throw new Error(`${file}: no face`);
  return { image: image.value, face };
}

function psnr(a: Buffer, b: Buffer): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

const SETTINGS: { name: string; options: Parameters<ReturnType<typeof sharp>['jpeg']>[0] }[] = [
  { name: 'q85 4:4:4 (shipped)', options: { quality: 85, chromaSubsampling: '4:4:4', optimiseCoding: false } },
  { name: 'q88 4:4:4 optimised Huffman (before)', options: { quality: 88, chromaSubsampling: '4:4:4' } },
  { name: 'q88 4:4:4', options: { quality: 88, chromaSubsampling: '4:4:4', optimiseCoding: false } },
  { name: 'q80 4:4:4', options: { quality: 80, chromaSubsampling: '4:4:4', optimiseCoding: false } },
  { name: 'q90 4:2:0', options: { quality: 90, chromaSubsampling: '4:2:0', optimiseCoding: false } },
  { name: 'q85 4:2:0', options: { quality: 85, chromaSubsampling: '4:2:0', optimiseCoding: false } },
  { name: 'q88 4:4:4 progressive', options: { quality: 88, chromaSubsampling: '4:4:4', progressive: true } },
];

export async function benchReplyPicture(runs = 30): Promise<ReplyPictureBench> {
  const load = loadNow();
  const pipeline = await loadPipeline();
  const detect = (image: RgbImage) => pipeline.detector.detect(image, { maxFaces: 1 });
  const people = await Promise.all(['Barack_Obama', 'Joe_Biden', 'Angelina_Jolie', 'Jim_Parsons', 'Kaley_Cuoco', 'Mayim_Bialik'].map((p) => faceOf(p, detect)));
  await pipeline.dispose();
  const sizes = tileSizes();
  const [user, ...others] = people;
  const thumbs = await Promise.all(others.map(({ image, face }) => thumbnailJpeg(image, face.box)));
  const names = ['Joe Biden', 'Angelina Jolie', 'Jim Parsons', 'Kaley Cuoco', 'Mayim Bialik'];
  const tiles = await thumbnailTiles(thumbs, thumbs.map((_, i) => (i === 0 ? sizes.face : sizes.thumb)));
  const matches: ComposeMatch[] = tiles.map((face, i) => ({ name: names[i]!, similarity: 80 - 6 * i, face: face! }));
  const row: ComposeRow = { userFace: await cropForDisplay(user!.image, user!.face.box, sizes.face), best: matches[0]!, runnersUp: matches.slice(1) };

  let jpeg = await composeReply([row]);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await cpuMs(() => composeReply([row]));
    times.push(r.wall);
    cpu.push(r.cpu);
    jpeg = r.value;
  }
  const newNames: number[] = [];
  for (let i = 0; i < runs; i++) {
    const renamed = (m: ComposeMatch): ComposeMatch => ({ ...m, name: `${m.name} ${i}`, similarity: m.similarity - (i % 7) });
    const fresh: ComposeRow = { ...row, best: renamed(row.best), runnersUp: row.runnersUp.map(renamed) };
    newNames.push((await cpuMs(() => composeReply([fresh]))).wall);
  }
  const cold: number[] = [];
  for (let i = 0; i < Math.max(3, Math.round(runs / 5)); i++) {
    clearSpriteCache();
    cold.push((await cpuMs(() => composeReply([row]))).wall);
  }
  const meta = await sharp(jpeg).metadata();

  // The encoder on the same lossless picture.
  const png = await composeReply([row], { format: 'png' });
  const { data: truth, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
  const jpegSweep: JpegSetting[] = [];
  for (const s of SETTINGS) {
    let out = await sharp(truth, raw).jpeg(s.options).toBuffer();
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await cpuMs(() => sharp(truth, raw).jpeg(s.options).toBuffer());
      ms.push(r.cpu);
      out = r.value;
    }
    const decoded = await sharp(out).raw().toBuffer();
    jpegSweep.push({ name: s.name, kb: Math.round(out.length / 102.4) / 10, cpuMs: Math.round(median(ms) * 100) / 100, psnrDb: Math.round(psnr(truth, decoded) * 100) / 100 });
  }
  return {
    runs,
    medianMs: median(times),
    cpuMs: median(cpu),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    newNamesMedianMs: median(newNames),
    coldMedianMs: median(cold),
    jpegKb: jpeg.length / 1024,
    width: meta.width,
    height: meta.height,
    load,
    jpeg: jpegSweep,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const b = await benchReplyPicture(Number(process.argv[2] ?? 30));
  console.log(`machine: ${machine()}`);
  console.log(
    `reply picture, one row with 4 runners-up, ${b.width}x${b.height}: median ${b.medianMs.toFixed(1)} ms (${b.minMs.toFixed(1)}-${b.maxMs.toFixed(1)} over ${b.runs}; ` +
      `CPU ${b.cpuMs.toFixed(1)} ms); names never drawn before ${b.newNamesMedianMs.toFixed(1)} ms; first reply of a layout ${b.coldMedianMs.toFixed(0)} ms; ` +
      `${b.jpegKb.toFixed(0)} KB JPEG (load ${b.load})`,
  );
  console.log('\n| JPEG setting | KB | encode CPU ms | PSNR dB |\n|---|---|---|---|');
  for (const s of b.jpeg) console.log(`| ${s.name} | ${s.kb} | ${s.cpuMs} | ${s.psnrDb} |`);
}
