import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rm } from 'node:fs/promises';
import { ConfigError } from '../core/errors.ts';
import type { Precision } from '../core/models/embedder.ts';
import { recordModel, sha256File, type ModelEntry } from '../core/models/manifest.ts';
import { MANIFEST_IDS as VGG_MANIFEST_IDS, vggFaceThreads } from '../core/models/vggFace.ts';
import { createSession } from '../core/runtime/ort.ts';
import type { RgbImage } from '../core/types.ts';
import { logger } from '../log.ts';
import { KerasWeightsError, openKerasWeights, type KerasLayer, type KerasWeight, type KerasWeightsFile } from './kerasWeights.ts';
import { writeModelFile } from './onnx/modelFile.ts';
import type { ModelProto } from './onnx/proto.ts';
import {
  INPUT_SIZE,
  MEAN_BGR,
  VGG_FACE_WIDTHS,
  buildVggFaceGraph,
  vggLayerPlan,
  type LayerWeights,
  type VggHead,
  type VggLayer,
  type VggWidths,
} from './vggFaceGraph.ts';
import { observeChips, type ActivationRanges } from './onnx/calibration.ts';
import { buildVggFaceInt8Graph, buildVggFaceProbeGraph } from './vggFaceInt8.ts';

// `lookalike model convert-vggface <file.h5>`: the user's vgg_face_weights.h5 (deepface's Keras
// weights, downloaded by the user; nothing is fetched here) into models/vgg-face.onnx, with an entry
// in models/manifest.json that the vggface embedder verifies at load.
//
// Keras versions name layers differently (conv2d_1, convolution2d_1, ...) and Keras itself loads
// such files by order, not by name: so do we. The weight-bearing layers, in the order layer_names
// lists them, must be VGG-Face's 16 with exactly its kernel and bias shapes; the first that is not
// is named in the error.

const log = logger('convert');

export const MODEL_ID = 'vggface';
export const MODEL_FILE = 'vgg-face.onnx';
export const INT8_MODEL_FILE = 'vgg-face-int8.onnx';

export interface ConvertVggFaceOptions {
  /** The Keras weights file (vgg_face_weights.h5). */
  file: string;
  /** Folder that receives the .onnx file and manifest.json. */
  modelsDir: string;
  /** Channel widths the file must have; VGG-Face's unless a test converts a narrower network. */
  widths?: VggWidths;
  /** How fc6..fc8 are written (see VggHead); 'gemm' unless measuring. */
  head?: VggHead;
  /** Output file name inside modelsDir. */
  modelFile?: string;
  /** fp32 (default), or int8: statically quantised, calibrated on `calibration`. */
  precision?: Precision;
  /** Aligned 224 px face crops (faceCalibration.ts) whose activations set the int8 ranges. */
  calibration?: readonly RgbImage[];
}

export interface ConvertVggFaceResult {
  file: string;
  sha256: string;
  bytes: number;
  inputSize: number;
  /** Descriptor name ('4096', '2622') -> graph output and length. */
  descriptors: Record<string, { output: string; dims: number }>;
  nodes: number;
  parameters: number;
}

/** A layer of the file matched to the layer of the network it must hold. */
export interface MatchedLayer {
  plan: VggLayer;
  layer: KerasLayer;
  kernel: KerasWeight;
  bias: KerasWeight;
}

const shapeText = (shape: readonly number[]) => `(${shape.join(', ')})`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Pairs the file's weight-bearing layers with the network's, checking every shape. */
export function matchVggLayers(keras: KerasWeightsFile, widths: VggWidths = VGG_FACE_WIDTHS): MatchedLayer[] {
  const plan = vggLayerPlan(widths);
  const weighted = keras.layers.filter((l) => l.weights.length > 0);
  const where = `${keras.file}`;
  const matched = plan.map((expected, i): MatchedLayer => {
    const want = `${expected.label}: kernel ${shapeText(expected.kernel)} (height, width, in, out) and bias (${expected.kernel[3]})`;
    const layer = weighted[i];
    if (!layer) {
      throw new KerasWeightsError(
        `${where} has ${weighted.length} layers with weights, VGG-Face has ${plan.length}: ` +
          `the first missing one is weight layer ${i + 1}, ${want}`,
      );
    }
    const position = `layer "${layer.name}" (weight layer ${i + 1}, VGG-Face ${expected.label})`;
    if (layer.weights.length !== 2) {
      throw new KerasWeightsError(`${where}: ${position} has ${layer.weights.length} weights (${layer.weights.map((w) => w.name).join(', ')}); expected a kernel and a bias`);
    }
    const [kernel, bias] = layer.weights as [KerasWeight, KerasWeight];
    if (!sameShape(kernel.shape, expected.kernel)) {
      const [kh, kw, cin, cout] = expected.kernel;
      const next = plan[i + 1];
      let hint = '';
      if (sameShape(kernel.shape, [cout, cin, kh, kw])) {
        hint = '; it looks like a Theano-ordered (out, in, height, width) kernel: save the weights with channels_last ordering';
      } else if (next && sameShape(kernel.shape, next.kernel)) {
        hint = `; it fits ${next.label}: is ${expected.label} missing from the file?`;
      }
      throw new KerasWeightsError(`${where}: ${position} has kernel ${shapeText(kernel.shape)}; expected ${want}${hint}`);
    }
    if (!sameShape(bias.shape, [expected.kernel[3]])) {
      throw new KerasWeightsError(`${where}: ${position} has bias ${shapeText(bias.shape)}; expected ${want}`);
    }
    return { plan: expected, layer, kernel, bias };
  });
  const extra = weighted[plan.length];
  if (extra) {
    throw new KerasWeightsError(`${where}: layer "${extra.name}" has weights, but VGG-Face ends with fc8 (weight layer ${plan.length}, "${weighted[plan.length - 1]!.name}")`);
  }
  return matched;
}

/**
 * A Keras kernel [h, w, in, out] as an ONNX one [out, in, h, w], read one (y, x) tap at a time so
 * that neither h5wasm's heap nor a second full-size copy has to hold all of fc6 (400 MB) at once.
 */
export function readKernelOihw(keras: KerasWeightsFile, m: MatchedLayer): LayerWeights {
  const [kh, kw, cin, cout] = m.plan.kernel;
  const out = new Float32Array(kh * kw * cin * cout);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const tap = keras.read(m.layer, m.kernel, [[y, y + 1], [x, x + 1]]);
      if (tap.length !== cin * cout) throw new KerasWeightsError(`${keras.file}: kernel of "${m.layer.name}" read ${tap.length} values at (${y}, ${x})`);
      for (let i = 0; i < cin; i++) {
        const row = i * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = tap[row + o]!;
      }
    }
  }
  return { kernel: { dims: [cout, cin, kh, kw], data: out }, bias: keras.read(m.layer, m.bias) };
}

export interface SaveVggFaceOptions {
  modelsDir: string;
  widths: VggWidths;
  head: VggHead;
  /** Where the weights came from, for the manifest. */
  source: string;
  sourceSha256?: string;
  modelFile?: string;
}

/** Writes a built VGG-Face graph under modelsDir and records it in the manifest as 'vggface'. */
export function saveVggFaceModel(built: BuiltGraph, opts: SaveVggFaceOptions): Promise<ConvertVggFaceResult> {
  return recordVggFaceGraph(built, opts, opts.modelFile ?? MODEL_FILE, MODEL_ID, { head: opts.head });
}

type BuiltGraph = { model: ModelProto; nodes: number; parameters: number };

/** Writes a VGG-Face graph (fp32 or int8) and its manifest entry; `variant` holds what only that variant records. */
async function recordVggFaceGraph(built: BuiltGraph, opts: SaveVggFaceOptions, modelFile: string, manifestId: string, variant: Partial<ModelEntry>): Promise<ConvertVggFaceResult> {
  const file = path.join(opts.modelsDir, modelFile);
  const { sha256, bytes } = await writeModelFile(file, built.model);
  // Descriptor names are VGG-Face's layer widths; a narrower test network keeps the names.
  const descriptors = {
    '4096': { output: 'fc7', dims: opts.widths.fc7 },
    '2622': { output: 'fc8', dims: opts.widths.fc8 },
  };
  const entry: ModelEntry = {
    file: modelFile,
    sha256,
    bytes,
    inputSize: INPUT_SIZE,
    dims: opts.widths.fc7,
    source: opts.source,
    ...(opts.sourceSha256 ? { source_sha256: opts.sourceSha256 } : {}),
    converted_at: new Date().toISOString(),
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', range: '0..255', mean_bgr: [...MEAN_BGR] },
    descriptors,
    defaultDescriptor: '4096',
    widths: opts.widths,
    ...variant,
  };
  await recordModel(opts.modelsDir, manifestId, entry);
  return { file, sha256, bytes, inputSize: INPUT_SIZE, descriptors, nodes: built.nodes, parameters: built.parameters };
}

export async function convertVggFace(opts: ConvertVggFaceOptions): Promise<ConvertVggFaceResult> {
  if ((opts.precision ?? 'fp32') === 'int8') return convertVggFaceInt8(opts);
  const widths = opts.widths ?? VGG_FACE_WIDTHS;
  const head = opts.head ?? 'gemm';
  const started = Date.now();
  const keras = await openKerasWeights(opts.file);
  let built: ReturnType<typeof buildVggFaceGraph>;
  try {
    const matched = matchVggLayers(keras, widths);
    log.info({ file: opts.file, layers: matched.map((m) => m.layer.name) }, 'VGG-Face layers found');
    built = buildVggFaceGraph(widths, (_, i) => readKernelOihw(keras, matched[i]!), { head, docSource: path.basename(opts.file) });
  } finally {
    keras.close();
  }
  const result = await saveVggFaceModel(built, {
    modelsDir: opts.modelsDir,
    widths,
    head,
    source: `VGG-Face (Parkhi et al. 2015), Keras weights ${path.basename(opts.file)}`,
    sourceSha256: await sha256File(opts.file),
    modelFile: opts.modelFile,
  });
  log.info({ file: result.file, bytes: result.bytes, nodes: built.nodes, parameters: built.parameters, ms: Date.now() - started }, 'VGG-Face converted to ONNX');
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { loadConfig } = await import('../config.ts');
  const [file] = process.argv.slice(2);
  if (!file) throw new Error('usage: convertVggFace.ts <vgg_face_weights.h5>');
  const result = await convertVggFace({ file, modelsDir: loadConfig().modelsDir });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Activation ranges of the fp32 network over the calibration crops (two passes: extremes, then histograms). */
export async function calibrateVggFace(
  widths: VggWidths,
  weightsOf: (layer: VggLayer, index: number) => LayerWeights,
  crops: readonly RgbImage[],
  workDir: string,
): Promise<ActivationRanges> {
  const probeFile = path.join(workDir, `.vgg-face-probe-${process.pid}.onnx`);
  await writeModelFile(probeFile, buildVggFaceProbeGraph(widths, weightsOf));
  try {
    const { session } = await createSession(probeFile, { device: 'cpu', intraOpThreads: vggFaceThreads() });
    try {
      return (await observeChips(session, crops, INPUT_SIZE, CALIBRATION_BATCH)).ranges();
    } finally {
      await session.release();
    }
  } finally {
    await rm(probeFile, { force: true });
  }
}

/** Crops per calibration run: the probe outputs every activation map, ~54 MB per crop. */
const CALIBRATION_BATCH = 4;

/** Writes a built int8 graph and records it in the manifest as 'vggface-int8'. */
export function saveVggFaceInt8Model(built: BuiltGraph, opts: SaveVggFaceOptions & { calibrationCrops: number }): Promise<ConvertVggFaceResult> {
  return recordVggFaceGraph(built, opts, opts.modelFile ?? INT8_MODEL_FILE, VGG_MANIFEST_IDS.int8, {
    precision: 'int8',
    quantization: { weights: 'int8, symmetric, per output channel', activations: 'uint8, per tensor, 99.99th percentile of calibration', calibrationCrops: opts.calibrationCrops },
  });
}

async function convertVggFaceInt8(opts: ConvertVggFaceOptions): Promise<ConvertVggFaceResult> {
  const widths = opts.widths ?? VGG_FACE_WIDTHS;
  const crops = opts.calibration ?? [];
  if (crops.length === 0) throw new ConfigError('an int8 conversion needs calibration crops (--calibration <folder of face photos>)');
  const started = Date.now();
  // The weights are read twice, layer by layer, rather than held: once for calibration, once to quantise.
  const withWeights = async <T>(use: (weightsOf: (layer: VggLayer, index: number) => LayerWeights) => Promise<T> | T): Promise<T> => {
    const keras = await openKerasWeights(opts.file);
    try {
      const matched = matchVggLayers(keras, widths);
      return await use((_, i) => readKernelOihw(keras, matched[i]!));
    } finally {
      keras.close();
    }
  };
  const ranges = await withWeights((weightsOf) => calibrateVggFace(widths, weightsOf, crops, opts.modelsDir));
  log.info({ crops: crops.length, ms: Date.now() - started }, 'VGG-Face calibrated');
  const built = await withWeights((weightsOf) => buildVggFaceInt8Graph(widths, weightsOf, ranges, { docSource: path.basename(opts.file) }));
  const result = await saveVggFaceInt8Model(built, {
    modelsDir: opts.modelsDir,
    widths,
    head: 'gemm',
    source: `VGG-Face (Parkhi et al. 2015), Keras weights ${path.basename(opts.file)}, int8`,
    sourceSha256: await sha256File(opts.file),
    modelFile: opts.modelFile,
    calibrationCrops: crops.length,
  });
  log.info({ file: result.file, bytes: result.bytes, ms: Date.now() - started }, 'VGG-Face converted to int8 ONNX');
  return result;
}
