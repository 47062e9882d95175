import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { ModelLoadError } from '../src/core/errors.ts';
import { load, toNchwBatch, type FaceRecognitionNetEmbedder } from '../src/core/models/faceRecognitionNet.ts';
import { verifyModel } from '../src/core/models/manifest.ts';
import { createSession, runFloat32, type OrtSession, type SessionOptions } from '../src/core/runtime/ort.ts';
import type { RgbImage } from '../src/core/types.ts';
import { convertFaceRecognitionNet } from '../src/jobs/convertFaceRecognitionNet.ts';
import { loadFaceApiReference } from '../tests/support/faceApiTfjs.ts';
import { loadFaceCrops } from '../tests/support/faceCrops.ts';
import { median } from './stats.ts';

// The default face embedder on ONNX Runtime against face-api.js's own tfjs model on the WebAssembly
// backend, on the same 150x150 crops. All configurations are measured in interleaved rounds so that
// load from other processes on a shared machine hits them alike; figures are medians after warm-up.

export interface EmbeddingVariant {
  name: string;
  batch1MsPerFace: number;
  batch8MsPerFace: number;
}

export interface EmbeddingBench {
  provider: string;
  crops: number;
  /** Timed calls per configuration and batch size. */
  rounds: number;
  /** 1-minute load average when the run started; above the core count, expect noisy numbers. */
  loadAverage: number;
  cores: number;
  /** The embedder as shipped (predict(), preprocessing included), one crop per call. */
  ortMsPerFace: number;
  /** The same, eight crops per call. */
  ortBatch8MsPerFace: number;
  ortFacesPerSec: number;
  /** face-api.js FaceRecognitionNet, tfjs wasm backend (SIMD), one crop per call. */
  tfjsWasmMsPerFace: number;
  /** tfjsWasmMsPerFace / ortMsPerFace. */
  ratio: number;
  /** Raw session.run times for other ORT settings, same rounds. */
  variants: EmbeddingVariant[];
}

const VARIANTS: { name: string; options: Omit<SessionOptions, 'device'> }[] = [
  { name: 'threads=default spin=off opt=all (shipped)', options: {} },
  { name: 'threads=1 opt=all', options: { intraOpThreads: 1 } },
  { name: 'threads=2 spin=on opt=all', options: { intraOpThreads: 2, spinWait: true } },
  { name: 'threads=default spin=off opt=extended (no NCHWc layout)', options: { graphOptimization: 'extended' } },
  { name: 'threads=default spin=off opt=basic', options: { graphOptimization: 'basic' } },
];

async function ensureModel(modelsDir: string): Promise<string> {
  try {
    return (await verifyModel(modelsDir, 'default', '')).path;
  } catch (err) {
    if (!(err instanceof ModelLoadError)) throw err;
    return (await convertFaceRecognitionNet({ modelsDir })).file;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function benchEmbedding(opts: { rounds?: number; modelsDir?: string } = {}): Promise<EmbeddingBench> {
  const rounds = opts.rounds ?? 25;
  const modelsDir = opts.modelsDir ?? loadConfig().modelsDir;
  const loadAverage = os.loadavg()[0]!;
  const file = await ensureModel(modelsDir);
  const crops = (await loadFaceCrops(150)).map((c) => c.crop);
  const batch8 = crops.slice(0, 8);

  const embedder: FaceRecognitionNetEmbedder = await load({ modelsDir, device: 'auto' });
  const sessions: OrtSession[] = [];
  for (const v of VARIANTS) sessions.push((await createSession(file, { device: 'cpu', ...v.options })).session);
  const reference = await loadFaceApiReference();

  const runRaw = (session: OrtSession, batch: readonly RgbImage[]) =>
    runFloat32(session, { name: 'input', data: toNchwBatch(batch, 150), dims: [batch.length, 3, 150, 150] }, ['embedding']);

  // Warm-up: first runs allocate arenas, pre-pack weights and compile wasm kernels.
  for (let i = 0; i < 3; i++) {
    await embedder.predict([crops[0]!]);
    await embedder.predict(batch8);
    for (const s of sessions) {
      await runRaw(s, [crops[0]!]);
      await runRaw(s, batch8);
    }
    await reference.describe(crops[0]!);
  }

  // Passes of a few consecutive calls per configuration, configurations in turn: load from other
  // processes hits all alike, and one configuration's spinning threads settle before the next runs.
  const passes = Math.ceil(rounds / 5);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  const measure = async (out1: number[], out8: number[] | undefined, one: (c: RgbImage) => Promise<unknown>, eight?: () => Promise<unknown>) => {
    await settle();
    for (let k = 0; k < 5; k++) out1.push(await timed(() => one(crops[(out1.length + k) % crops.length]!)));
    if (out8 && eight) for (let k = 0; k < 5; k++) out8.push((await timed(eight)) / batch8.length);
  };
  const ort1: number[] = [];
  const ort8: number[] = [];
  const tfjs: number[] = [];
  const v1 = VARIANTS.map(() => [] as number[]);
  const v8 = VARIANTS.map(() => [] as number[]);
  for (let p = 0; p < passes; p++) {
    await measure(ort1, ort8, (c) => embedder.predict([c]), () => embedder.predict(batch8));
    await measure(tfjs, undefined, (c) => reference.describe(c));
    for (const [i, s] of sessions.entries()) await measure(v1[i]!, v8[i]!, (c) => runRaw(s, [c]), () => runRaw(s, batch8));
  }

  await embedder.dispose();
  for (const s of sessions) await s.release();

  const ortMsPerFace = median(ort1);
  const tfjsWasmMsPerFace = median(tfjs);
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return {
    provider: embedder.provider,
    crops: crops.length,
    rounds: ort1.length,
    loadAverage: round2(loadAverage),
    cores: os.availableParallelism(),
    ortMsPerFace: round2(ortMsPerFace),
    ortBatch8MsPerFace: round2(median(ort8)),
    ortFacesPerSec: round2(1000 / median(ort8)),
    tfjsWasmMsPerFace: round2(tfjsWasmMsPerFace),
    ratio: round2(tfjsWasmMsPerFace / ortMsPerFace),
    variants: VARIANTS.map((v, i) => ({ name: v.name, batch1MsPerFace: round2(median(v1[i]!)), batch8MsPerFace: round2(median(v8[i]!)) })),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchEmbedding();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
