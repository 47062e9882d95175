import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { composeReply } from '../src/core/compose.ts';
import { decodeImage } from '../src/core/decode.ts';
import { intraOpThreadsFor, tryOpenEngine } from '../src/core/engine.ts';
import { DEFAULT_LIMITS } from '../src/bots/shared/limits.ts';
import { chipForModel, cropForDisplay } from '../src/core/faces.ts';
import { Gallery } from '../src/core/gallery.ts';
import { setImageThreads } from '../src/core/runtime/sharp.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { loadFaceApiPipeline } from '../tests/support/faceApiTfjs.ts';
import { buildPeopleIndex, loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { MATCH_SEARCH } from './detect.ts';
import { cpuMs, loadNow, machine, median, timeMs } from './stats.ts';

// Time per stage over the shared photos, and the whole `match` (models loaded) from a photo's bytes
// to the reply picture on the 1-2.5 MP ones, against face-api.js's own pipeline (SSD MobileNet v1,
// 68 landmarks, FaceRecognitionNet descriptors, on tfjs's wasm backend; the photo decoded by sharp
// for it too) on the same photos in the same run, in passes over all the photos that take turns. Detection is timed as `match` searches (MATCH_SEARCH); embed is
// the aligned chip and the model. CPU times are every thread of the process: the work, whatever
// the machine's load.
// `node --import tsx bench/pipeline.ts [rounds]`

export interface PipelineBench {
  photos: number;
  stagesMs: { decode: number; detect: number; embed: number; search: number; compose: number };
  endToEnd: {
    photos: number;
    megapixels: number;
    /** Photo bytes to reply picture. */
    medianMs: number;
    /** The same over the first round only: photos whose sizes the process has not seen (as a bot meets most photos). */
    firstRoundMs: number;
    p95Ms: number;
    cpuMs: number;
    /** The same without the reply picture. */
    noPictureMs: number;
    /** The same photos through an engine opened as the bots open theirs (ORT and libvips threads shared out: intraOpThreadsFor). */
    bot: { intraOpThreads: number; medianMs: number; p95Ms: number };
  };
  peer: { name: string; medianMs: number; cpuMs: number; faces: number; ourFaces: number };
  /** peer.medianMs / endToEnd.medianMs, medians of the same run. */
  ratio: number;
  load: [string, string];
}

export async function benchPipeline(rounds = 4): Promise<PipelineBench> {
  const load0 = loadNow();
  const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
  const { dataDir } = await buildPeopleIndex();
  const opened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  if (!opened.ok) throw new Error(opened.error.message);
  const engine = opened.value;
  const botThreads = intraOpThreadsFor(DEFAULT_LIMITS.concurrency);
  const botOpened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu', intraOpThreads: botThreads, imageThreads: botThreads });
  if (!botOpened.ok) throw new Error(botOpened.error.message);
  const botEngine = botOpened.value;
  // libvips' threads are set for the whole process: `match` has every core, the bots' engine its share.
  const cores = availableParallelism();
  const asMatch = () => setImageThreads(cores);
  const asBot = () => setImageThreads(botThreads);
  asMatch();
  const galleryOpened = await Gallery.open(path.join(dataDir, 'index'));
  if (!galleryOpened.ok) throw new Error(galleryOpened.error.message);
  const gallery = galleryOpened.value;
  const pipeline = await loadPipeline();
  const model = pipeline.embedder;

  const t = { decode: [] as number[], detect: [] as number[], embed: [] as number[], search: [] as number[], compose: [] as number[] };
  const big: { bytes: Buffer; mp: number }[] = [];
  for (const img of listGalleryImages(peopleDir)) {
    const bytes = readFileSync(img.path);
    const [decodeMs, decoded] = await timeMs(() => decodeImage(bytes));
    if (!decoded.ok) continue;
    t.decode.push(decodeMs);
    const mp = (decoded.value.width * decoded.value.height) / 1e6;
    if (mp >= 1 && mp <= 2.5) big.push({ bytes, mp });
    const [detectMs, faces] = await timeMs(() => pipeline.detector.detect(decoded.value, MATCH_SEARCH));
    t.detect.push(detectMs);
    const face = faces[0];
    if (!face) continue;
    const [embedMs, [descriptor]] = await timeMs(async () => model.predict([await chipForModel(decoded.value, face, model)]));
    t.embed.push(embedMs);
    const [searchMs, hits] = await timeMs(() => gallery.search(descriptor!, 5));
    t.search.push(searchMs);
    const tile = await cropForDisplay(decoded.value, face.box, 320);
    const match = { name: hits[0]!.name, similarity: hits[0]!.similarity, face: tile };
    const [composeMs] = await timeMs(() => composeReply([{ userFace: tile, best: match, runnersUp: [match, match, match, match] }]));
    t.compose.push(composeMs);
  }

  const peer = await loadFaceApiPipeline();
  const peerOf = async (bytes: Buffer) => {
    const decoded = await decodeImage(bytes);
    return decoded.ok ? peer.describe(decoded.value) : [];
  };
  // Warm-up: arenas, pre-packed weights, wasm kernels, the reply picture's layouts and sprites.
  for (const { bytes } of big.slice(0, 3)) {
    asMatch();
    await engine.match(bytes);
    await peerOf(bytes);
    asBot();
    await botEngine.match(bytes);
  }
  const e2e: number[] = [];
  const e2eFirst: number[] = [];
  const e2eCpu: number[] = [];
  const bare: number[] = [];
  const botMs: number[] = [];
  const peerMs: number[] = [];
  const peerCpu: number[] = [];
  let ourFaces = 0;
  let peerFaces = 0;
  // Each configuration runs over all the photos in a pass, as a service meets one new photo after
  // another; the passes take turns, their order rotating each round, so that none always follows the
  // same one and load from other processes falls on all alike.
  const passes: { setup(): void; run(bytes: Buffer, round: number): Promise<void> }[] = [
    {
      setup: asMatch,
      async run(bytes, round) {
        const ours = await cpuMs(() => engine.match(bytes));
        if (!ours.value.ok) return;
        e2e.push(ours.wall);
        e2eCpu.push(ours.cpu);
        if (round === 0) {
          e2eFirst.push(ours.wall);
          ourFaces += ours.value.value.faces.length;
        }
      },
    },
    {
      setup: asMatch,
      async run(bytes, round) {
        const theirs = await cpuMs(() => peerOf(bytes));
        peerMs.push(theirs.wall);
        peerCpu.push(theirs.cpu);
        if (round === 0) peerFaces += theirs.value.length;
      },
    },
    {
      setup: asMatch,
      async run(bytes) {
        const [ms, result] = await timeMs(() => engine.match(bytes, { composite: false }));
        if (result.ok) bare.push(ms);
      },
    },
    {
      setup: asBot,
      async run(bytes) {
        const [ms, result] = await timeMs(() => botEngine.match(bytes));
        if (result.ok) botMs.push(ms);
      },
    },
  ];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < passes.length; i++) {
      const pass = passes[(i + round) % passes.length]!;
      pass.setup();
      for (const { bytes } of big) await pass.run(bytes, round);
    }
  }
  asMatch();
  await Promise.all([engine.close(), botEngine.close(), pipeline.dispose()]);
  const sorted = [...e2e].sort((a, b) => a - b);
  const botSorted = [...botMs].sort((a, b) => a - b);
  const endToEnd = {
    photos: big.length,
    megapixels: median(big.map((b) => b.mp)),
    medianMs: median(e2e),
    firstRoundMs: median(e2eFirst),
    p95Ms: sorted[Math.ceil(0.95 * sorted.length) - 1]!,
    cpuMs: median(e2eCpu),
    noPictureMs: median(bare),
    bot: { intraOpThreads: botThreads, medianMs: median(botMs), p95Ms: botSorted[Math.ceil(0.95 * botSorted.length) - 1]! },
  };
  return {
    photos: t.decode.length,
    stagesMs: {
      decode: median(t.decode),
      detect: median(t.detect),
      embed: median(t.embed),
      search: median(t.search),
      compose: median(t.compose),
    },
    endToEnd,
    peer: { name: `face-api.js ${peer.backend} (SSD MobileNet v1 + 68 landmarks + descriptor)`, medianMs: median(peerMs), cpuMs: median(peerCpu), faces: peerFaces, ourFaces },
    ratio: median(peerMs) / endToEnd.medianMs,
    load: [load0, loadNow()],
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const p = await benchPipeline(Number(process.argv[2] ?? 4));
  console.log(`machine: ${machine()}`);
  console.log(JSON.stringify(p, null, 1));
}
