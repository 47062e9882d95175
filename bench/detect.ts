import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readImageFile } from '../src/core/decode.ts';
import { detectFaces, DEFAULT_DETECT_OPTIONS } from '../src/core/detect.ts';
import { openCvHeapMark } from '../src/core/runtime/opencv.ts';
import type { RgbImage } from '../src/core/types.ts';
import { peopleDir, scenesDir } from '../tests/support/paths.ts';
import { median, timeMs } from './stats.ts';

// Face detection over the shared photos: how many labelled single-person photos give a face, faces
// per group photo, time per call at two sizes, and whether the OpenCV heap stays put over a long loop.
// `node --import tsx bench/detect.ts [--loop 1000]` (2000 calls took 12 minutes on 2 busy cores)

export interface DetectBench {
  options: typeof DEFAULT_DETECT_OPTIONS;
  people: { photos: number; atLeastOne: number; moreThanOne: number; missed: string[]; multi: string[] };
  scenes: Record<string, number>;
  msPerCall: Record<string, number>;
  heap: { calls: number; before: { heapBytes: number; freeBlockAt: number }; after: { heapBytes: number; freeBlockAt: number } };
}

async function load(file: string): Promise<RgbImage> {
  const r = await readImageFile(file);
  if (!r.ok) throw new Error(`${file}: ${r.error.message}`);
  return r.value;
}

export async function benchDetect(loopCalls = 1000, log: (line: string) => void = () => {}): Promise<DetectBench> {
  const peopleFiles = (await readdir(peopleDir, { recursive: true })).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const people = { photos: peopleFiles.length, atLeastOne: 0, moreThanOne: 0, missed: [] as string[], multi: [] as string[] };
  for (const f of peopleFiles) {
    const n = (await detectFaces(await load(path.join(peopleDir, f)))).length;
    if (n >= 1) people.atLeastOne++;
    else people.missed.push(f);
    if (n > 1) {
      people.moreThanOne++;
      people.multi.push(`${f} (${n})`);
    }
  }
  log(`people: ${people.atLeastOne}/${people.photos} with a face, ${people.moreThanOne} with more than one`);

  const scenes: Record<string, number> = {};
  for (const f of (await readdir(scenesDir)).sort()) {
    scenes[f] = (await detectFaces(await load(path.join(scenesDir, f)))).length;
  }
  log(`scenes: ${JSON.stringify(scenes)}`);

  // ~640 px and ~2 MP, decoded beforehand: detection only.
  const sized: Record<string, RgbImage> = {
    '660x440': await load(path.join(peopleDir, 'deepface_person_04/deepface_tests__img62.jpg')),
    '1920x1080 (2.1 MP)': await load(path.join(peopleDir, 'Barack_Obama/face_recognition__obama-1080p.jpg')),
    '2000x1428 group': await load(path.join(scenesDir, 'face_recognition__obama_and_biden.jpg')),
    '150x150 crop': await load(path.join(peopleDir, 'Kaley_Cuoco/faceapi_bbt__penny1.png')),
  };
  const msPerCall: Record<string, number> = {};
  for (const [label, image] of Object.entries(sized)) {
    await detectFaces(image);
    const times: number[] = [];
    for (let i = 0; i < 15; i++) times.push((await timeMs(() => detectFaces(image)))[0]);
    msPerCall[label] = median(times);
  }
  log(`ms per call (median of 15): ${JSON.stringify(msPerCall)}`);

  // Leak check: a small photo, so thousands of calls stay quick.
  const small = await load(path.join(scenesDir, 'debian_packages__facereg.jpg'));
  await detectFaces(small);
  const before = await openCvHeapMark();
  for (let i = 0; i < loopCalls; i++) await detectFaces(small);
  const after = await openCvHeapMark();
  log(`heap over ${loopCalls} calls: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);

  return { options: DEFAULT_DETECT_OPTIONS, people, scenes, msPerCall, heap: { calls: loopCalls, before, after } };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--loop');
  const result = await benchDetect(i > 0 ? Number(process.argv[i + 1]) : 1000, console.log);
  console.log(JSON.stringify(result, null, 1));
}
