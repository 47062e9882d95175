import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { toNchwBatch } from '../src/core/models/faceRecognitionNet.ts';
import { load as loadVggFace, VGG_FACE_CHIP, vggFaceThreads } from '../src/core/models/vggFace.ts';
import { createSession, runFloat32, type OrtSession, type SessionOptions } from '../src/core/runtime/ort.ts';
import type { RgbImage } from '../src/core/types.ts';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { calibrateVggFace, saveVggFaceInt8Model, saveVggFaceModel } from '../src/jobs/convertVggFace.ts';
import { writeModelFile } from '../src/jobs/onnx/modelFile.ts';
import { hwioToOihw } from '../src/jobs/onnx/layout.ts';
import { calibrationCrops } from '../src/jobs/faceCalibration.ts';
import { buildVggFaceGraph, VGG_FACE_WIDTHS, type LayerWeights, type VggHead } from '../src/jobs/vggFaceGraph.ts';
import { buildVggFaceInt8Graph } from '../src/jobs/vggFaceInt8.ts';
import { peopleDir, validationDir } from '../tests/support/paths.ts';
import { MEAN_BGR, randomKerasWeights, type KerasLayerWeights } from '../tests/support/vggFace.ts';
import { machine, median } from './stats.ts';
import { buildVggFaceDynamicInt8Graph } from './vggFaceInt8.ts';

// VGG-Face (4096-D) speed on this machine's CPU, batch 1 and batch 8: ONNX Runtime as shipped in
// fp32 and in int8 (`--precision int8`: static quantisation, calibrated on aligned faces of
// faces/people), the op-for-op head (fc6..fc8 as Conv) and a dynamically quantised int8 graph as
// raw sessions, and the same network on TensorFlow.js's WebAssembly backend. Full-size, with random
// weights (the real ones cannot be downloaded here): speed does not depend on the values; how close
// the int8 descriptors stay to fp32 is measured on aligned faces of faces/validation (never used for
// calibration), which is all random weights can say about it. Configurations are interleaved in
// passes, one ORT session (~0.6 GB at full size) alive at a time; medians after warm-up.
// `node --import tsx bench/vggface.ts [passes]`

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
  /** The vggface embedder as shipped (predict(), preprocessing and normalisation included), fp32. */
  ortMsPerFace: number;
  ortBatch8MsPerFace: number;
  ortFacesPerSec: number;
  /** The same embedder with --precision int8. */
  int8MsPerFace: number;
  int8Batch8MsPerFace: number;
  tfjsWasmMsPerFace: number;
  tfjsWasmBatch8MsPerFace: number;
  /** tfjsWasmMsPerFace / ortMsPerFace. */
  ratio: number;
  targetMsPerFace: 120;
  /** Raw session.run times of other ORT settings. */
  variants: VggFaceTiming[];
  /** fc7 descriptors' cosine with the shipped fp32 embedder's, over aligned validation faces: minimum and median. */
  agreement: { faces: number; calibrationFaces: number; int8: [number, number]; int8Dynamic: [number, number]; convHead: [number, number]; tfjsWasm: number };
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

export async function benchVggFace(opts: { passes?: number; modelsDir?: string } = {}): Promise<VggFaceBench> {
  const passes = opts.passes ?? 3;
  const modelsDir = opts.modelsDir ?? loadConfig().modelsDir;
  const loadBefore = os.loadavg()[0]!;
  const work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-vggface-'));
  try {
    // Aligned faces as the pipeline feeds the model: calibration from faces/people, agreement on faces/validation.
    const calibration = await calibrationCrops(peopleDir, { modelsDir, device: 'cpu', chip: VGG_FACE_CHIP, count: 64 });
    const held = await calibrationCrops(validationDir, { modelsDir, device: 'cpu', chip: VGG_FACE_CHIP, count: 24 });
    if (!calibration.ok || !held.ok) throw new Error('no calibration faces');
    const crops = held.value;
    let weights: KerasLayerWeights[] | null = randomKerasWeights(VGG_FACE_WIDTHS, 7, { tiled: true });
    const weightsOf = (_: unknown, i: number): LayerWeights => {
      const w = weights![i]!;
      return { kernel: hwioToOihw(w.kernel, w.shape), bias: w.bias };
    };

    // Model files first, one graph in memory at a time; the int8 ones go through the conversion's own steps.
    const files: Record<string, string> = {};
    const head = (h: VggHead) => buildVggFaceGraph(VGG_FACE_WIDTHS, weightsOf, { head: h });
    files.gemm = (await saveVggFaceModel(head('gemm'), { modelsDir: work, widths: VGG_FACE_WIDTHS, head: 'gemm', source: 'random weights (benchmark)' })).file;
    files.conv = path.join(work, 'conv-head.onnx');
    await writeModelFile(files.conv, head('conv').model);
    const ranges = await calibrateVggFace(VGG_FACE_WIDTHS, weightsOf, calibration.value, work);
    files.int8 = (
      await saveVggFaceInt8Model(buildVggFaceInt8Graph(VGG_FACE_WIDTHS, weightsOf, ranges), {
        modelsDir: work,
        widths: VGG_FACE_WIDTHS,
        head: 'gemm',
        source: 'random weights (benchmark)',
        calibrationCrops: calibration.value.length,
      })
    ).file;
    files.dynamic = path.join(work, 'int8-dynamic.onnx');
    await writeModelFile(files.dynamic, buildVggFaceDynamicInt8Graph(VGG_FACE_WIDTHS, weightsOf));

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
      const { session: s } = await createSession(file, { device: 'cpu', intraOpThreads: vggFaceThreads(), ...options });
      return { run: (batch: readonly RgbImage[]) => rawFc7(s, batch), close: () => s.release() };
    };
    const embedder = (precision: 'fp32' | 'int8') => async () => {
      const e = await loadVggFace({ modelsDir: work, device: 'cpu', precision });
      return { run: (batch: readonly RgbImage[]) => e.predict(batch), close: () => e.dispose() };
    };
    const configs: Config[] = [
      { name: 'shipped: vggface embedder predict(), fp32, gemm head', key: 'shipped', open: embedder('fp32') },
      { name: 'shipped: vggface embedder predict(), --precision int8 (static)', key: 'int8', open: embedder('int8') },
      { name: 'int8 dynamic (activations quantised at run time), raw session', key: 'dynamic', open: session(files.dynamic, {}) },
      { name: 'fp32 conv head (fc6..fc8 as Conv, op for op), raw session', key: 'conv', open: session(files.conv, {}) },
      { name: 'tfjs wasm backend', key: 'tfjs', open: async () => ({ run: (batch: readonly RgbImage[]) => net.fc7(batch), close: async () => undefined }) },
    ];
    const b1 = new Map<string, number[]>(configs.map((c) => [c.key, []]));
    const b8 = new Map<string, number[]>(configs.map((c) => [c.key, []]));
    const fc7Of = new Map<string, Float32Array[]>();
    const batch8 = crops.slice(0, 8);
    const unit = (v: Float32Array): Float32Array => {
      const n = Math.hypot(...v) || 1;
      return v.map((x) => x / n);
    };
    for (let pass = 0; pass < passes; pass++) {
      for (const c of configs) {
        const opened = await c.open();
        if (pass === 0 && c.key !== 'tfjs') {
          // Every held-out face once (also the warm-up): the descriptors compared below.
          const out: Float32Array[] = [];
          for (const crop of crops) {
            const r = await opened.run([crop]);
            out.push(unit(r instanceof Float32Array ? r : r[0]!));
          }
          fc7Of.set(c.key, out);
        } else {
          const r = await opened.run([crops[0]!]);
          if (c.key === 'tfjs' && pass === 0) fc7Of.set('tfjs', [unit(r as Float32Array)]);
        }
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
      .filter((c) => c.key !== 'shipped' && c.key !== 'tfjs' && c.key !== 'int8')
      .map((c) => ({ name: c.name, batch1MsPerFace: round2(median(b1.get(c.key)!)), batch8MsPerFace: round2(median(b8.get(c.key)!)) }));

    const shipped = fc7Of.get('shipped')!;
    const against = (key: string): [number, number] => {
      const cos = fc7Of.get(key)!.map((v, i) => cosine(shipped[i]!, v));
      return [Math.round(Math.min(...cos) * 1e5) / 1e5, Math.round(median(cos) * 1e5) / 1e5];
    };
    const ortMsPerFace = median(b1.get('shipped')!);
    const tfjsWasmMsPerFace = median(b1.get('tfjs')!);
    return {
      cpu: machine(),
      cores: os.availableParallelism(),
      loadAverage: [round2(loadBefore), round2(os.loadavg()[0]!)],
      passes,
      ortMsPerFace: round2(ortMsPerFace),
      ortBatch8MsPerFace: round2(median(b8.get('shipped')!)),
      ortFacesPerSec: round2(1000 / median(b8.get('shipped')!)),
      int8MsPerFace: round2(median(b1.get('int8')!)),
      int8Batch8MsPerFace: round2(median(b8.get('int8')!)),
      tfjsWasmMsPerFace: round2(tfjsWasmMsPerFace),
      tfjsWasmBatch8MsPerFace: round2(median(b8.get('tfjs')!)),
      ratio: round2(tfjsWasmMsPerFace / ortMsPerFace),
      targetMsPerFace: 120,
      variants,
      agreement: {
        faces: crops.length,
        calibrationFaces: calibration.value.length,
        int8: against('int8'),
        int8Dynamic: against('dynamic'),
        convHead: against('conv'),
        tfjsWasm: Math.round(cosine(shipped[0]!, fc7Of.get('tfjs')![0]!) * 1e5) / 1e5,
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchVggFace({ passes: Number(process.argv[2] ?? 3) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
