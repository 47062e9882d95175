import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toNchwBatch } from '../src/core/models/faceRecognitionNet.ts';
import { load as loadVggFace } from '../src/core/models/vggFace.ts';
import { createSession, runFloat32, type OrtSession, type SessionOptions } from '../src/core/runtime/ort.ts';
import type { RgbImage } from '../src/core/types.ts';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { saveVggFaceModel } from '../src/jobs/convertVggFace.ts';
import { writeModelFile } from '../src/jobs/onnx/modelFile.ts';
import { hwioToOihw } from '../src/jobs/onnx/layout.ts';
import { buildVggFaceGraph, VGG_FACE_WIDTHS, type LayerWeights, type VggHead } from '../src/jobs/vggFaceGraph.ts';
import { loadFaceCrops } from '../tests/support/faceCrops.ts';
import { MEAN_BGR, randomKerasWeights, type KerasLayerWeights } from '../tests/support/vggFace.ts';
import { median } from './stats.ts';
import { buildVggFaceInt8Graph } from './vggFaceInt8.ts';

// VGG-Face (4096-D) speed on this machine's CPU: ONNX Runtime as shipped (the vggface embedder,
// batch 1 and batch 8), ORT graph-optimisation levels, the op-for-op head (fc6..fc8 as Conv) and an
// int8 dynamic-quantised variant as raw sessions, and the same network on TensorFlow.js's WebAssembly
// backend. Full-size, with random weights (the real ones cannot be downloaded here): speed does not
// depend on the values, accuracy cannot be judged from them. Configurations run one after another,
// configurations interleaved in passes, one ORT session alive at a time; medians after warm-up.

export interface VggFaceTiming {
  name: string;
  batch1MsPerFace: number;
  batch8MsPerFace: number;
}

export interface VggFaceBench {
  cpu: string;
  cores: number;
  /** 1-minute load average before and after; above the core count, expect noisy numbers. */
  loadAverage: [number, number];
  /** Interleaved passes; each measures every configuration twice at batch 1 and once at batch 8. */
  passes: number;
  /** The vggface embedder as shipped (predict(), preprocessing and normalisation included). */
  ortMsPerFace: number;
  ortBatch8MsPerFace: number;
  ortFacesPerSec: number;
  tfjsWasmMsPerFace: number;
  tfjsWasmBatch8MsPerFace: number;
  /** tfjsWasmMsPerFace / ortMsPerFace. */
  ratio: number;
  targetMsPerFace: 250;
  /** Raw session.run times of other ORT settings. */
  variants: VggFaceTiming[];
  /** fc7 of one face crop from each configuration against the shipped embedder's (cosine; 1 = same direction). */
  agreement: { convHead: number; tfjsWasm: number; int8: number; basicVsAll: number };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function oihw(weights: readonly KerasLayerWeights[]): (_: unknown, i: number) => LayerWeights {
  return (_, i) => {
    const w = weights[i]!;
    return { kernel: hwioToOihw(w.kernel, w.shape), bias: w.bias };
  };
}

/** The same network on tfjs (NHWC, Keras's own layout and BGR-minus-mean input): fused conv + bias + ReLU, max pooling, matmuls. */
export async function tfjsWasmNetwork(weights: readonly KerasLayerWeights[]) {
  const require = createRequire(import.meta.url);
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}${path.sep}`);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  const params = weights.map((w, i) => {
    // fc6..fc8 as matrices: Keras's [h, w, in, out] kernel flattens in NHWC order, as the map does.
    const kernel = i < 13 ? tf.tensor4d(w.kernel, w.shape) : tf.tensor2d(w.kernel, [w.kernel.length / w.shape[3], w.shape[3]]);
    return { kernel, bias: tf.tensor1d(w.bias) };
  });
  const meanBgr = tf.tensor1d(MEAN_BGR);
  const pools = new Set([1, 3, 6, 9, 12]);
  return {
    backend: tf.getBackend(),
    async fc7(crops: readonly RgbImage[]): Promise<Float32Array> {
      const out = tf.tidy(() => {
        const rgb = tf.tensor4d(Float32Array.from(Buffer.concat(crops.map((c) => c.data))), [crops.length, 224, 224, 3]);
        let x = tf.sub(tf.reverse(rgb, -1), meanBgr) as Tensor4D;
        for (let i = 0; i < 13; i++) {
          x = tf.fused.conv2d({ x, filter: params[i]!.kernel as Tensor4D, strides: 1, pad: 'same', bias: params[i]!.bias, activation: 'relu' });
          if (pools.has(i)) x = tf.maxPool(x, 2, 2, 'valid');
        }
        let h = tf.reshape(x, [crops.length, -1]) as Tensor2D;
        for (let i = 13; i < 15; i++) h = tf.fused.matMul({ a: h, b: params[i]!.kernel as Tensor2D, bias: params[i]!.bias, activation: 'relu' }) as Tensor2D;
        return h;
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    dispose() {
      for (const p of params) {
        p.kernel.dispose();
        p.bias.dispose();
      }
      meanBgr.dispose();
    },
  };
}

export async function benchVggFace(opts: { passes?: number; int8?: boolean } = {}): Promise<VggFaceBench> {
  const passes = opts.passes ?? 3;
  const loadBefore = os.loadavg()[0]!;
  const work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-vggface-'));
  try {
    const crops = (await loadFaceCrops(224)).map((c) => c.crop);
    let weights: KerasLayerWeights[] | null = randomKerasWeights(VGG_FACE_WIDTHS, 7, { tiled: true });

    // Model files first, one graph in memory at a time.
    const files: Record<string, string> = {};
    const head = (h: VggHead) => buildVggFaceGraph(VGG_FACE_WIDTHS, oihw(weights!), { head: h });
    files.gemm = (await saveVggFaceModel(head('gemm'), { modelsDir: work, widths: VGG_FACE_WIDTHS, head: 'gemm', source: 'random weights (benchmark)' })).file;
    files.conv = path.join(work, 'conv-head.onnx');
    await writeModelFile(files.conv, head('conv').model);
    if (opts.int8 !== false) {
      files.int8 = path.join(work, 'int8.onnx');
      await writeModelFile(files.int8, buildVggFaceInt8Graph(VGG_FACE_WIDTHS, oihw(weights)));
    }

    // Every configuration opens, warms up, measures and closes in turn, in several passes: load from
    // other processes on a shared machine then falls on all alike, and only one ORT session (~0.6 GB
    // at full size) is alive at a time. tfjs stays loaded; its slow batch of eight runs once.
    const net = await tfjsWasmNetwork(weights);
    weights = null;
    const rawFc7 = async (session: OrtSession, batch: readonly RgbImage[]) =>
      (await runFloat32(session, { name: 'input', data: toNchwBatch(batch, 224), dims: [batch.length, 3, 224, 224] }, ['fc7'])).fc7!.data;
    interface Config {
      name: string;
      key: string;
      open(): Promise<{ run(batch: readonly RgbImage[]): Promise<Float32Array[] | Float32Array>; close(): Promise<void> }>;
    }
    const session = (file: string, options: Omit<SessionOptions, 'device'>) => async () => {
      const { session: s } = await createSession(file, { device: 'cpu', ...options });
      return { run: (batch: readonly RgbImage[]) => rawFc7(s, batch), close: () => s.release() };
    };
    const configs: Config[] = [
      {
        name: 'shipped: vggface embedder predict(), gemm head, opt=all',
        key: 'shipped',
        open: async () => {
          const e = await loadVggFace({ modelsDir: work, device: 'cpu' });
          return { run: (batch) => e.predict(batch), close: () => e.dispose() };
        },
      },
      { name: 'gemm head, opt=extended (no NCHWc layout)', key: 'gemm-extended', open: session(files.gemm, { graphOptimization: 'extended' }) },
      { name: 'gemm head, opt=basic', key: 'gemm-basic', open: session(files.gemm, { graphOptimization: 'basic' }) },
      { name: 'gemm head, opt=disabled', key: 'gemm-disabled', open: session(files.gemm, { graphOptimization: 'disabled' }) },
      { name: 'gemm head, opt=all, 1 thread', key: 'gemm-1thread', open: session(files.gemm, { intraOpThreads: 1 }) },
      { name: 'conv head (fc6..fc8 as Conv, op for op), opt=all', key: 'conv', open: session(files.conv, {}) },
      ...(files.int8 ? [{ name: 'int8 dynamic (per-channel weights), opt=all', key: 'int8', open: session(files.int8, {}) }] : []),
      { name: 'tfjs wasm backend', key: 'tfjs', open: async () => ({ run: (batch: readonly RgbImage[]) => net.fc7(batch), close: async () => undefined }) },
    ];
    const b1 = new Map<string, number[]>(configs.map((c) => [c.key, []]));
    const b8 = new Map<string, number[]>(configs.map((c) => [c.key, []]));
    const fc7Of: Record<string, Float32Array> = {};
    const batch8 = crops.slice(0, 8);
    for (let pass = 0; pass < passes; pass++) {
      for (const c of configs) {
        const opened = await c.open();
        const first = await opened.run([crops[0]!]);
        if (pass === 0) fc7Of[c.key] = first instanceof Float32Array ? first : first[0]!;
        for (let k = 0; k < 2; k++) b1.get(c.key)!.push(await timed(() => opened.run([crops[(pass * 2 + k + 1) % crops.length]!])));
        if (c.key !== 'tfjs') {
          await opened.run(batch8);
          b8.get(c.key)!.push((await timed(() => opened.run(batch8))) / batch8.length);
        } else if (pass === 0) {
          b8.get(c.key)!.push((await timed(() => opened.run(batch8))) / batch8.length);
        }
        await opened.close();
      }
    }
    net.dispose();
    const variants: VggFaceTiming[] = configs
      .filter((c) => c.key !== 'shipped' && c.key !== 'tfjs')
      .map((c) => ({ name: c.name, batch1MsPerFace: round2(median(b1.get(c.key)!)), batch8MsPerFace: round2(median(b8.get(c.key)!)) }));

    const shippedFc7 = fc7Of.shipped!;
    const ortMsPerFace = median(b1.get('shipped')!);
    const tfjsWasmMsPerFace = median(b1.get('tfjs')!);
    return {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      loadAverage: [round2(loadBefore), round2(os.loadavg()[0]!)],
      passes,
      ortMsPerFace: round2(ortMsPerFace),
      ortBatch8MsPerFace: round2(median(b8.get('shipped')!)),
      ortFacesPerSec: round2(1000 / median(b8.get('shipped')!)),
      tfjsWasmMsPerFace: round2(tfjsWasmMsPerFace),
      tfjsWasmBatch8MsPerFace: round2(median(b8.get('tfjs')!)),
      ratio: round2(tfjsWasmMsPerFace / ortMsPerFace),
      targetMsPerFace: 250,
      variants,
      agreement: {
        convHead: cosine(shippedFc7, fc7Of.conv!),
        tfjsWasm: cosine(shippedFc7, fc7Of.tfjs!),
        int8: fc7Of.int8 ? cosine(shippedFc7, fc7Of.int8) : Number.NaN,
        basicVsAll: cosine(shippedFc7, fc7Of['gemm-basic']!),
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchVggFace();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
