import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.ts';
import { CONVERT_HINT, MANIFEST_IDS } from '../core/models/faceRecognitionNet.ts';
import { recordModel, verifyModel, type ModelEntry } from '../core/models/manifest.ts';
import { createSession } from '../core/runtime/ort.ts';
import type { RgbImage } from '../core/types.ts';
import { logger } from '../log.ts';
import { observeChips, type ActivationRanges } from './onnx/calibration.ts';
import { GraphBuilder, floatTensor } from './onnx/graphBuilder.ts';
import { foldChannelAffine, hwioToOihw, outputSize, tfPads2d } from './onnx/layout.ts';
import { writeModelFile } from './onnx/modelFile.ts';
import { decodeModel, encodeModel, type ModelProto } from './onnx/proto.ts';
import { probeGraph, quantiseStatic } from './onnx/staticInt8.ts';
import { readTfjsWeights, type TfjsTensor } from './tfjsWeights.ts';

// Converts face-api.js's FaceRecognitionNet (dlib's ResNet-34-like face descriptor net, as
// tfjs weights) into ONNX, following face-api's FaceRecognitionNet.ts / residualLayer.ts /
// convLayer.ts / scaleLayer.ts op for op. Each scale layer (x*w + b) is folded into its conv.
// Preprocessing divides by 255 as @vladmandic/face-api and current face-api.js do (dlib's own input
// layer and early face-api.js divided by 256); the reference the test checks against is face-api.
//
// Graph contract:
//   input  'input'      float32 [N, 3, 150, 150], RGB, NCHW, raw values 0..255 (no preprocessing
//                        outside the graph: it subtracts face-api's mean RGB and divides by 255)
//   output 'descriptor' float32 [N, 128], the raw descriptor exactly as face-api returns it
//   output 'embedding'  float32 [N, 128], the same, L2-normalised
// Face-api pads non-square inputs to a centred square and resizes them to 150x150; callers hand the
// graph crops that are already 150x150.

const log = logger('convert');

export const MODEL_ID = 'default';
export const MODEL_FILE = 'face-recognition-net.onnx';
export const INT8_MODEL_FILE = 'face-recognition-net-int8.onnx';
export const INPUT_SIZE = 150;
export const DESCRIPTOR_DIMS = 128;
const MEAN_RGB = [122.782, 117.001, 104.298];
const WEIGHTS_MANIFEST = 'face_recognition_model-weights_manifest.json';

export interface ConvertOptions {
  /** Folder that receives the .onnx file and manifest.json. */
  modelsDir: string;
  /** Folder holding the tfjs weights; defaults to the one inside @vladmandic/face-api. */
  weightsDir?: string;
}

export interface ConvertResult {
  file: string;
  sha256: string;
  bytes: number;
  inputSize: number;
  dims: number;
  nodes: number;
  parameters: number;
}

// The weights ship inside the npm package @vladmandic/face-api (a dependency), so `npm ci` brings them.
function defaultWeightsDir(): string {
  const pkg = createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json');
  return path.join(path.dirname(pkg), 'model');
}

class NetWriter {
  readonly g = new GraphBuilder({ name: 'face_recognition_net' });
  parameters = 0;
  private readonly used = new Set<string>();

  constructor(private readonly weights: Map<string, TfjsTensor>) {}

  tensor(name: string): TfjsTensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`face recognition weights lack ${name}`);
    this.used.add(name);
    return t;
  }

  assertAllUsed(): void {
    const unused = [...this.weights.keys()].filter((k) => !this.used.has(k));
    if (unused.length) throw new Error(`weights not used by the graph: ${unused.join(', ')}`);
  }

  /** face-api convLayer: conv + bias, scale layer, optional ReLU. Returns [value, channels, size]. */
  convLayer(x: string, size: number, prefix: string, stride: 1 | 2, padding: 'same' | 'valid', relu: boolean): [string, number, number] {
    const filters = this.tensor(`${prefix}/conv/filters`);
    const [k] = filters.shape as [number];
    const folded = foldChannelAffine(
      hwioToOihw(filters.data, filters.shape),
      this.tensor(`${prefix}/conv/bias`).data,
      this.tensor(`${prefix}/scale/weights`).data,
      this.tensor(`${prefix}/scale/biases`).data,
    );
    this.parameters += folded.weight.data.length + folded.bias.length;
    const pads = tfPads2d(padding, size, k, stride);
    const out = this.g.conv(x, {
      name: prefix,
      weight: folded.weight,
      bias: { dims: [folded.bias.length], data: folded.bias },
      strides: [stride, stride],
      pads,
    });
    const channels = folded.weight.dims[0] as number;
    const outSize = outputSize(size, k, stride, pads[0], pads[2]);
    return [relu ? this.g.relu(out, { name: `${prefix}/relu` }) : out, channels, outSize];
  }

  /** face-api residual: two 3x3 'same' conv layers, identity shortcut, ReLU after the sum. */
  residual(x: string, size: number, prefix: string): string {
    const [a] = this.convLayer(x, size, `${prefix}/conv1`, 1, 'same', true);
    const [b] = this.convLayer(a, size, `${prefix}/conv2`, 1, 'same', false);
    return this.g.relu(this.g.add(b, x, { name: `${prefix}/add` }), { name: `${prefix}/relu` });
  }

  /**
   * face-api residualDown: the main branch starts with a 3x3 stride-2 'valid' conv; the shortcut is
   * a 2x2 stride-2 average pool, zero-padded in channels when they double. Where the pool's output
   * is one cell larger than the conv's, face-api appends a zero row and column to the main branch.
   */
  residualDown(x: string, size: number, channelsIn: number, prefix: string): [string, number, number] {
    const [a] = this.convLayer(x, size, `${prefix}/conv1`, 2, 'valid', true);
    const mainSize = outputSize(size, 3, 2);
    const [conv2, channels] = this.convLayer(a, mainSize, `${prefix}/conv2`, 1, 'same', false);
    let main = conv2;
    const poolSize = outputSize(size, 2, 2);
    if (poolSize !== mainSize) {
      if (poolSize !== mainSize + 1) throw new Error(`${prefix}: pool ${poolSize} vs conv ${mainSize} cannot be aligned as face-api does`);
      main = this.g.pad(main, [0, 0, 0, 0, 0, 0, 1, 1], { name: `${prefix}/pad_spatial` });
    }
    let shortcut: string;
    if (channels === channelsIn) {
      shortcut = this.g.averagePool(x, { name: `${prefix}/pool`, kernel: [2, 2], strides: [2, 2] });
    } else {
      if (channels !== 2 * channelsIn) throw new Error(`${prefix}: face-api only pads channels ${channelsIn} -> ${2 * channelsIn}, not -> ${channels}`);
      // Average pool plus zero channels, written as one fixed 2x2 stride-2 conv (0.25 from each
      // input channel to the same output channel, nothing into the extra ones). Exact, and unlike
      // Pad it keeps ORT's blocked conv layout and lets the add + ReLU fuse into conv2.
      const weight = new Float32Array(channels * channelsIn * 4);
      for (let c = 0; c < channelsIn; c++) weight.fill(0.25, (c * channelsIn + c) * 4, (c * channelsIn + c + 1) * 4);
      shortcut = this.g.conv(x, { name: `${prefix}/pool`, weight: { dims: [channels, channelsIn, 2, 2], data: weight }, strides: [2, 2] });
    }
    const out = this.g.relu(this.g.add(main, shortcut, { name: `${prefix}/add` }), { name: `${prefix}/relu` });
    return [out, channels, poolSize];
  }
}

/** Builds the ONNX bytes from face-api's tfjs weights. */
export async function buildFaceRecognitionNet(weightsDir: string): Promise<{ bytes: Uint8Array; nodes: number; parameters: number }> {
  const weights = await readTfjsWeights(path.join(weightsDir, WEIGHTS_MANIFEST));
  const w = new NetWriter(weights);
  const { g } = w;

  const input = g.input('input', 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  const mean = g.initializer('mean_rgb', floatTensor([1, 3, 1, 1], MEAN_RGB));
  const divisor = g.initializer('divisor', floatTensor([], [255]));
  const normalized = g.div(g.sub(input, mean, { name: 'subtract_mean' }), divisor, { name: 'scale_input' });

  let [x, channels, size] = w.convLayer(normalized, INPUT_SIZE, 'conv32_down', 2, 'valid', true);
  x = g.maxPool(x, { name: 'max_pool', kernel: [3, 3], strides: [2, 2] });
  size = outputSize(size, 3, 2);

  for (const block of ['conv32_1', 'conv32_2', 'conv32_3']) x = w.residual(x, size, block);
  [x, channels, size] = w.residualDown(x, size, channels, 'conv64_down');
  for (const block of ['conv64_1', 'conv64_2', 'conv64_3']) x = w.residual(x, size, block);
  [x, channels, size] = w.residualDown(x, size, channels, 'conv128_down');
  for (const block of ['conv128_1', 'conv128_2']) x = w.residual(x, size, block);
  [x, channels, size] = w.residualDown(x, size, channels, 'conv256_down');
  for (const block of ['conv256_1', 'conv256_2']) x = w.residual(x, size, block);
  [x, channels, size] = w.residualDown(x, size, channels, 'conv256_down_out');

  const pooled = g.reduceMean(x, [2, 3], { name: 'global_mean', keepDims: false });
  const fc = w.tensor('fc');
  if (fc.shape[0] !== channels || fc.shape[1] !== DESCRIPTOR_DIMS) {
    throw new Error(`fc is [${fc.shape.join(',')}], expected [${channels},${DESCRIPTOR_DIMS}]`);
  }
  w.parameters += fc.data.length;
  g.matMul(pooled, g.initializer('fc', { dims: fc.shape, data: fc.data }), { name: 'fc', output: 'descriptor' });
  g.lpNormalization('descriptor', 1, 2, { name: 'l2_normalize', output: 'embedding' });
  g.output('descriptor', 'float32', ['N', DESCRIPTOR_DIMS]);
  g.output('embedding', 'float32', ['N', DESCRIPTOR_DIMS]);
  w.assertAllUsed();

  const model = g.toModel({
    producerName: 'lookalike convertFaceRecognitionNet',
    docString:
      "face-api.js FaceRecognitionNet (dlib ResNet descriptor). Input: RGB 0..255, NCHW, 150x150. " +
      "Outputs: 'descriptor' (raw, as face-api) and 'embedding' (L2-normalised).",
    metadata: { input_layout: 'NCHW', input_range: '0..255', channel_order: 'RGB', mean_rgb: MEAN_RGB.join(','), divisor: '255' },
  });
  return { bytes: encodeModel(model), nodes: model.graph.node.length, parameters: w.parameters };
}

export async function convertFaceRecognitionNet(opts: ConvertOptions): Promise<ConvertResult> {
  const weightsDir = opts.weightsDir ?? defaultWeightsDir();
  const started = Date.now();
  const { bytes, nodes, parameters } = await buildFaceRecognitionNet(weightsDir);

  await mkdir(opts.modelsDir, { recursive: true });
  const file = path.join(opts.modelsDir, MODEL_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  const entry: ModelEntry = {
    file: MODEL_FILE,
    sha256,
    bytes: bytes.length,
    inputSize: INPUT_SIZE,
    dims: DESCRIPTOR_DIMS,
    source: 'face-api.js FaceRecognitionNet (@vladmandic/face-api model/face_recognition_model, tfjs uint8-quantized)',
    converted_at: new Date().toISOString(),
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', range: '0..255' },
    outputs: { raw: 'descriptor', normalized: 'embedding' },
  };
  await recordModel(opts.modelsDir, MODEL_ID, entry);
  log.info({ file, bytes: bytes.length, nodes, parameters, ms: Date.now() - started }, 'FaceRecognitionNet converted to ONNX');
  return { file, sha256, bytes: bytes.length, inputSize: INPUT_SIZE, dims: DESCRIPTOR_DIMS, nodes, parameters };
}

export interface ConvertInt8Options {
  /** Folder holding the converted fp32 graph; receives the int8 one and its manifest entry. */
  modelsDir: string;
  /** Aligned 150 px face chips (faceCalibration.ts, DEFAULT_MODEL_CHIP) whose activations set the int8 ranges. */
  calibration: readonly RgbImage[];
}

/** Chips per calibration run: the probe outputs every activation map, about 3 MB a chip. */
const CALIBRATION_BATCH = 16;

/**
 * Activation ranges are the calibration's extremes. VGG-Face's 99.99th percentile clipped this residual
 * network's large activations: on faces/validation its descriptors then agreed with the fp32 ones to a
 * cosine of 0.980 at worst (0.993 at the 5th percentile) instead of 0.996 (0.999).
 */
const RANGE_PERCENTILE = 100;

/** Activation ranges of the fp32 graph over the calibration chips (two passes: extremes, then histograms). */
async function calibrate(float: ModelProto, chips: readonly RgbImage[], workDir: string): Promise<ActivationRanges> {
  const probeFile = path.join(workDir, `.face-recognition-net-probe-${process.pid}.onnx`);
  await writeModelFile(probeFile, probeGraph(float));
  try {
    const { session } = await createSession(probeFile, { device: 'cpu', intraOpThreads: 1 });
    try {
      return (await observeChips(session, chips, INPUT_SIZE, CALIBRATION_BATCH)).ranges(RANGE_PERCENTILE);
    } finally {
      await session.release();
    }
  } finally {
    await rm(probeFile, { force: true });
  }
}

/**
 * The default model in 8-bit integers (`--precision int8`): the converted fp32 graph quantised
 * statically (onnx/staticInt8.ts), recorded in the manifest as 'default-int8'. Same inputs and outputs
 * as the fp32 graph. Measured by bench/defaultInt8.ts against fp32 (speed, agreement, accuracy on
 * faces/validation).
 */
export async function convertFaceRecognitionNetInt8(opts: ConvertInt8Options): Promise<ConvertResult & { calibrationChips: number }> {
  if (opts.calibration.length === 0) throw new ConfigError('an int8 conversion needs calibration chips (--calibration <folder of face photos>)');
  const started = Date.now();
  const { path: fp32File, entry: fp32 } = await verifyModel(opts.modelsDir, MANIFEST_IDS.fp32, CONVERT_HINT);
  const float = decodeModel(await readFile(fp32File));
  const ranges = await calibrate(float, opts.calibration, opts.modelsDir);
  const int8 = quantiseStatic(float, ranges);
  const file = path.join(opts.modelsDir, INT8_MODEL_FILE);
  const { sha256, bytes } = await writeModelFile(file, int8);
  const entry: ModelEntry = {
    ...fp32,
    file: INT8_MODEL_FILE,
    sha256,
    bytes,
    source: `${fp32.source}, int8`,
    converted_at: new Date().toISOString(),
    precision: 'int8',
    fp32_sha256: fp32.sha256,
    quantization: { weights: 'int8, symmetric, per output channel', activations: 'uint8, per tensor, calibration extremes', calibrationChips: opts.calibration.length },
  };
  await recordModel(opts.modelsDir, MANIFEST_IDS.int8, entry);
  const parameters = float.graph.initializer.reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0);
  log.info({ file, bytes, chips: opts.calibration.length, ms: Date.now() - started }, 'FaceRecognitionNet quantised to int8');
  return { file, sha256, bytes, inputSize: INPUT_SIZE, dims: DESCRIPTOR_DIMS, nodes: int8.graph.node.length, parameters, calibrationChips: opts.calibration.length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { loadConfig } = await import('../config.ts');
  const result = await convertFaceRecognitionNet({ modelsDir: loadConfig().modelsDir });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
