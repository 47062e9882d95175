import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { DETECTORS, loadDetector, type DetectorName, type FaceSearch } from '../src/core/detect/detector.ts';
import { MAX_FACES_COUNTED, matchSearch } from '../src/core/engine.ts';
import type { RgbImage } from '../src/core/types.ts';
import { faceFreePatchImages, loadImage, sceneFaceCounts } from '../tests/support/detectFixtures.ts';
import { facesDir, peopleDir, scenesDir } from '../tests/support/paths.ts';
import { machine, median, timeMs } from './stats.ts';

// The two face detectors side by side, in one run: how many of the labelled photos give a face, how
// far the group photos are from their hand counts, false faces on the face-free patches, and time per
// call on a tight crop, a 1080p photo and the largest group photos. BlazeFace is timed twice: finding
// every face down to 20 px, and as `match` asks (matchSearch: the faces the detector is about as sure
// of as its best, none under 0.4 of the largest's side, up to MAX_FACES_COUNTED counted; the six largest
// are then matched). On pictures with six faces or fewer, counting up to 64 searches the same levels as
// a six-face search would.
// `node --import tsx bench/detect.ts`

export const MATCH_SEARCH: FaceSearch = matchSearch(MAX_FACES_COUNTED);

export interface DetectorFigures {
  detector: DetectorName;
  peopleFound: number;
  people: number;
  /** Sum over the group photos of |faces found - faces counted|, and the photos off by more than one. */
  sceneError: number;
  scenesOffByMoreThanOne: string[];
  patchesWithAFace: number;
  patches: number;
  /** Median ms per call, by picture. */
  msPerCall: Record<string, number>;
  /** BlazeFace only: the same pictures as `match` searches them. */
  msPerMatchCall?: Record<string, number>;
  /** BlazeFace only: what the score thresholds were chosen from (every level at 0.5). */
  scores?: {
    /** The highest false face on the face-free patches. */
    patchMax: number;
    /** The best face's score on the people photos: lowest, 5th percentile, median. */
    peopleBest: [number, number, number];
    /** Patches with a face at 0.75 everywhere, without the stricter threshold for enlarged levels. */
    patchesWithAFaceWithoutEnlargedThreshold: number;
  };
}

/** The pictures timed, decoded beforehand: detection only. */
export const TIMED = {
  '150 px face crop': 'people/Kaley_Cuoco/faceapi_bbt__penny1.png',
  '1920x1080 photo': 'people/Barack_Obama/face_recognition__obama-1080p.jpg',
  '2000x1428 group (3 faces)': 'scenes/face_recognition__obama_and_biden.jpg',
  '2280x1588 couple': 'scenes/deepface_tests__couple.jpg',
  '1366x768 group (4 faces)': 'scenes/faceapi_bbt__bbt1.jpg',
} as const;

export async function benchDetect(rounds = 7, log: (line: string) => void = () => {}): Promise<DetectorFigures[]> {
  const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
  const peopleFiles = (await readdir(peopleDir, { recursive: true })).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const counts = sceneFaceCounts();
  const patchImages = await faceFreePatchImages();
  const timed = Object.fromEntries(await Promise.all(Object.entries(TIMED).map(async ([label, file]) => [label, await loadImage(path.join(facesDir, file))] as const)));

  const out: DetectorFigures[] = [];
  for (const name of DETECTORS) {
    const loaded = await loadDetector(name, { modelsDir: config.modelsDir, device: 'cpu' });
    if (!loaded.ok) throw new Error(loaded.error.message);
    const detector = loaded.value;
    let peopleFound = 0;
    for (const f of peopleFiles) if ((await detector.detect(await loadImage(path.join(peopleDir, f)))).length > 0) peopleFound++;
    let sceneError = 0;
    const scenesOffByMoreThanOne: string[] = [];
    for (const [file, expected] of Object.entries(counts)) {
      const n = (await detector.detect(await loadImage(path.join(scenesDir, file)))).length;
      sceneError += Math.abs(n - expected);
      if (Math.abs(n - expected) > 1) scenesOffByMoreThanOne.push(`${file} ${n}/${expected}`);
    }
    let patchesWithAFace = 0;
    for (const image of patchImages) if ((await detector.detect(image)).length > 0) patchesWithAFace++;

    const time = async (search?: FaceSearch) => {
      const ms: Record<string, number> = {};
      for (const [label, image] of Object.entries(timed)) {
        await detector.detect(image, search);
        const times: number[] = [];
        for (let i = 0; i < rounds; i++) times.push((await timeMs(() => detector.detect(image, search)))[0]);
        ms[label] = Math.round(median(times) * 10) / 10;
      }
      return ms;
    };
    const scores = name === 'blazeface' ? await thresholdFigures(config.modelsDir, peopleFiles, patchImages) : undefined;
    const figures: DetectorFigures = {
      detector: name,
      peopleFound,
      people: peopleFiles.length,
      sceneError,
      scenesOffByMoreThanOne,
      patchesWithAFace,
      patches: patchImages.length,
      msPerCall: await time(),
      ...(name === 'blazeface' ? { msPerMatchCall: await time(MATCH_SEARCH), scores } : {}),
    };
    log(`${name}: ${JSON.stringify(figures)}`);
    out.push(figures);
    await detector.dispose();
  }
  return out;
}

/** Scores with every threshold at 0.5, and the patches' false faces without the enlarged levels' threshold. */
async function thresholdFigures(modelsDir: string, peopleFiles: string[], patches: RgbImage[]): Promise<DetectorFigures['scores']> {
  const open = async (blazeFace: { minScore: number; minScoreEnlarged: number }) => {
    const loaded = await loadDetector('blazeface', { modelsDir, device: 'cpu', blazeFace });
    if (!loaded.ok) throw new Error(loaded.error.message);
    return loaded.value;
  };
  const low = await open({ minScore: 0.5, minScoreEnlarged: 0.5 });
  let patchMax = 0;
  for (const image of patches) for (const f of await low.detect(image)) patchMax = Math.max(patchMax, f.score!);
  const best: number[] = [];
  for (const f of peopleFiles) best.push(Math.max(0, ...(await low.detect(await loadImage(path.join(peopleDir, f)))).map((x) => x.score!)));
  await low.dispose();
  const flat = await open({ minScore: 0.75, minScoreEnlarged: 0.75 });
  let flatCount = 0;
  for (const image of patches) if ((await flat.detect(image)).length > 0) flatCount++;
  await flat.dispose();
  best.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    patchMax: round(patchMax),
    peopleBest: [round(best[0]!), round(best[Math.floor(0.05 * best.length)]!), round(best[best.length >> 1]!)],
    patchesWithAFaceWithoutEnlargedThreshold: flatCount,
  };
}

export function detectTable(figures: DetectorFigures[]): string {
  const rows = figures.map((f) => {
    const ms = Object.values(f.msPerCall).join(' / ');
    const match = f.msPerMatchCall ? `; as match searches: ${Object.values(f.msPerMatchCall).join(' / ')}` : '';
    return (
      `| ${f.detector} | ${f.peopleFound}/${f.people} | ${f.sceneError}${f.scenesOffByMoreThanOne.length ? ` (off by more than one: ${f.scenesOffByMoreThanOne.join(', ')})` : ''} ` +
      `| ${f.patchesWithAFace}/${f.patches} | ${ms}${match} |`
    );
  });
  return [
    `| detector | people photos with a face | group photos: faces off the hand counts | face-free patches with a face | ms per call: ${Object.keys(TIMED).join(' / ')} |`,
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`machine: ${machine()}`);
  const figures = await benchDetect(7, console.log);
  console.log(detectTable(figures));
}
