import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeReply } from '../src/core/compose.ts';
import { decodeImage } from '../src/core/decode.ts';
import { intraOpThreadsFor } from '../src/core/engine.ts';
import { DEFAULT_LIMITS } from '../src/bots/shared/limits.ts';
import { chipForModel, cropForDisplay } from '../src/core/faces.ts';
import { Gallery } from '../src/core/gallery.ts';
import { DEFAULT_MODEL_CHIP } from '../src/core/models/faceRecognitionNet.ts';
import { setImageThreads } from '../src/core/runtime/sharp.ts';
import { buildIndex } from '../src/jobs/buildIndex.ts';
import { convertBlazeFace } from '../src/jobs/convertBlazeFace.ts';
import { convertFaceRecognitionNet, convertFaceRecognitionNetInt8 } from '../src/jobs/convertFaceRecognitionNet.ts';
import { calibrationCrops, DEFAULT_MODEL_CALIBRATION_CROPS } from '../src/jobs/faceCalibration.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { buildPeopleIndex, config, loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { MATCH_SEARCH } from './detect.ts';
import type { ChildAnswer, ChildRequest, Role } from './pipelineChild.ts';
import { loadNow, machine, median, percentile, timeMs } from './stats.ts';

// Time per stage over the shared photos (in this process), and the whole `match` (models loaded)
// from a photo's bytes to the reply picture on the 1-2.5 MP ones, against face-api.js's own pipeline
// (SSD MobileNet v1, 68 landmarks, FaceRecognitionNet descriptors, on tfjs's wasm backend; the photo
// decoded by sharp for it too) on the same photos in the same run. Each side runs in a process of
// its own, as deployed (pipelineChild.ts: `match`'s engine, a bot's engine, face-api.js), in passes
// over all the photos that take turns. Detection is timed as `match` searches (MATCH_SEARCH); embed
// is the aligned chip and the model. CPU times are every thread of the process: the work, whatever
// the machine's load. A fourth process matches against an index built with the default model in int8
// (`model convert-default --precision int8`, calibrated on faces/people, in a scratch models folder),
// so that its effect on the whole `match` is measured in the same run.
// `node --initial-old-space-size=64 --import tsx bench/pipeline.ts [rounds]` (the flags `lookalike` ships with)

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
    /**
     * The same photos against an index built with the default model in int8 (`--precision int8`),
     * each photo matched by `match`'s fp32 process and the int8 one back to back (which goes first
     * alternates): processes a pass apart differed by a few ms with the same code, photo pairs do not.
     */
    int8: { medianMs: number; p95Ms: number; pairedFasterMs: number; fasterIn: number; pairs: number };
  };
  peer: { name: string; medianMs: number; cpuMs: number; faces: number; ourFaces: number };
  /** peer.medianMs / endToEnd.medianMs, medians of the same run. */
  ratio: number;
  load: [string, string];
}

/** One side of the comparison in a process of its own (pipelineChild.ts), started with this process's Node flags. */
async function startChild(role: Role, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ name: string; run(request: ChildRequest): Promise<ChildAnswer>; close(): void }> {
  const child = fork(fileURLToPath(new URL('./pipelineChild.ts', import.meta.url)), [role, ...args], {
    execArgv: process.execArgv,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the ${role} process exited (${code})`))));
  exited.catch(() => undefined);
  const next = <T>() => Promise.race([new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))), exited]);
  const { name } = await next<{ name: string }>();
  return {
    name,
    run(request) {
      const answer = next<ChildAnswer>();
      child.send(request);
      return answer;
    },
    close() {
      child.removeAllListeners('exit');
      child.disconnect();
    },
  };
}

/** A models folder with the default models and the default model's int8 graph, and an index built with it. */
async function int8Index(): Promise<{ modelsDir: string; dataDir: string; dispose(): void }> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-int8-'));
  const modelsDir = path.join(scratch, 'models');
  await convertFaceRecognitionNet({ modelsDir });
  await convertBlazeFace({ modelsDir });
  const chips = await calibrationCrops(peopleDir, { modelsDir: config.modelsDir, device: 'cpu', chip: DEFAULT_MODEL_CHIP, count: DEFAULT_MODEL_CALIBRATION_CROPS });
  if (!chips.ok) throw new Error(chips.error.message);
  await convertFaceRecognitionNetInt8({ modelsDir, calibration: chips.value });
  const dataDir = path.join(scratch, 'data');
  const built = await buildIndex({ folder: peopleDir, dataDir, modelsDir, device: 'cpu', precision: 'int8' });
  if (!built.ok) throw new Error(built.error.message);
  return { modelsDir, dataDir, dispose: () => rmSync(scratch, { recursive: true, force: true }) };
}

export async function benchPipeline(rounds = 4): Promise<PipelineBench> {
  const load0 = loadNow();
  const { dataDir } = await buildPeopleIndex();
  const quantised = await int8Index();
  // libvips' threads as `match` has them, for the stages timed here.
  setImageThreads(availableParallelism());
  const galleryOpened = await Gallery.open(path.join(dataDir, 'index'));
  if (!galleryOpened.ok) throw new Error(galleryOpened.error.message);
  const gallery = galleryOpened.value;
  const pipeline = await loadPipeline();
  const model = pipeline.embedder;

  const t = { decode: [] as number[], detect: [] as number[], embed: [] as number[], search: [] as number[], compose: [] as number[] };
  const big: { file: string; mp: number }[] = [];
  for (const img of listGalleryImages(peopleDir)) {
    const bytes = readFileSync(img.path);
    const [decodeMs, decoded] = await timeMs(() => decodeImage(bytes));
    if (!decoded.ok) continue;
    t.decode.push(decodeMs);
    const mp = (decoded.value.width * decoded.value.height) / 1e6;
    if (mp >= 1 && mp <= 2.5) big.push({ file: img.path, mp });
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

  const [ours, bot, peer, int8] = await Promise.all([
    startChild('match', [dataDir]),
    startChild('bot', [dataDir]),
    startChild('face-api'),
    startChild('match', [quantised.dataDir], { LOOKALIKE_MODELS_DIR: quantised.modelsDir }),
  ]);
  // Warm-up: arenas, pre-packed weights, wasm kernels, the reply picture's layouts and sprites.
  for (const { file } of big.slice(0, 3)) {
    for (const side of [ours, bot, peer, int8]) await side.run({ file });
  }
  const e2e: number[] = [];
  const e2eFirst: number[] = [];
  const e2eCpu: number[] = [];
  const bare: number[] = [];
  const botMs: number[] = [];
  const int8Ms: number[] = [];
  const int8Gain: number[] = [];
  const peerMs: number[] = [];
  const peerCpu: number[] = [];
  let ourFaces = 0;
  let peerFaces = 0;
  // Each configuration runs over all the photos in a pass, as a service meets one new photo after
  // another; the passes take turns, their order rotating each round, so that none always follows the
  // same one and load from other processes falls on all alike.
  const passes: ((file: string, round: number) => Promise<void>)[] = [
    async (file, round) => {
      const answer = await ours.run({ file });
      if (!answer.ok) return;
      e2e.push(answer.wall);
      e2eCpu.push(answer.cpu);
      if (round === 0) {
        e2eFirst.push(answer.wall);
        ourFaces += answer.faces;
      }
    },
    async (file, round) => {
      const answer = await peer.run({ file });
      peerMs.push(answer.wall);
      peerCpu.push(answer.cpu);
      if (round === 0) peerFaces += answer.faces;
    },
    async (file) => {
      const answer = await ours.run({ file, composite: false });
      if (answer.ok) bare.push(answer.wall);
    },
    async (file) => {
      const answer = await bot.run({ file });
      if (answer.ok) botMs.push(answer.wall);
    },
    async (file) => {
      const int8First = int8Gain.length % 2 === 0;
      const first = await (int8First ? int8 : ours).run({ file });
      const second = await (int8First ? ours : int8).run({ file });
      const [fp32Answer, int8Answer] = int8First ? [second, first] : [first, second];
      if (!fp32Answer.ok || !int8Answer.ok) return;
      int8Ms.push(int8Answer.wall);
      int8Gain.push(fp32Answer.wall - int8Answer.wall);
    },
  ];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < passes.length; i++) {
      const pass = passes[(i + round) % passes.length]!;
      for (const { file } of big) await pass(file, round);
    }
  }
  for (const side of [ours, bot, peer, int8]) side.close();
  await pipeline.dispose();
  quantised.dispose();
  const endToEnd = {
    photos: big.length,
    megapixels: median(big.map((b) => b.mp)),
    medianMs: median(e2e),
    firstRoundMs: median(e2eFirst),
    p95Ms: percentile(e2e, 95),
    cpuMs: median(e2eCpu),
    noPictureMs: median(bare),
    bot: { intraOpThreads: intraOpThreadsFor(DEFAULT_LIMITS.concurrency), medianMs: median(botMs), p95Ms: percentile(botMs, 95) },
    int8: { medianMs: median(int8Ms), p95Ms: percentile(int8Ms, 95), pairedFasterMs: median(int8Gain), fasterIn: int8Gain.filter((g) => g > 0).length, pairs: int8Gain.length },
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
    peer: { name: `face-api.js ${peer.name} (SSD MobileNet v1 + 68 landmarks + descriptor, a process of its own)`, medianMs: median(peerMs), cpuMs: median(peerCpu), faces: peerFaces, ourFaces },
    ratio: median(peerMs) / endToEnd.medianMs,
    load: [load0, loadNow()],
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const p = await benchPipeline(Number(process.argv[2] ?? 4));
  console.log(`machine: ${machine()}`);
  console.log(JSON.stringify(p, null, 1));
}
