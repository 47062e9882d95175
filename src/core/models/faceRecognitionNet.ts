import type { Device } from '../../config.ts';
import { InferenceError } from '../errors.ts';
import { createSession, runFloat32, type ExecutionProvider } from '../runtime/ort.ts';
import type { RgbImage } from '../types.ts';
import type { FaceTemplate } from '../align.ts';
import type { FaceEmbedder, Precision } from './embedder.ts';
import { verifyModel } from './manifest.ts';

// face-api.js's FaceRecognitionNet (dlib's 128-D ResNet descriptor) on ONNX Runtime. The ONNX graph
// (src/jobs/convertFaceRecognitionNet.ts) takes raw RGB 0..255 in NCHW and does face-api's mean
// subtraction and scaling itself, and its 'embedding' output is already L2-normalised, so the only
// work here is repacking pixels.

export const MODEL_ID = 'default';
/** The manifest entry of each precision's graph (src/jobs/convertFaceRecognitionNet.ts writes them). */
export const MANIFEST_IDS: Record<Precision, string> = { fp32: 'default', int8: 'default-int8' };
/** Unrelated faces score cosine 0.80-0.93 with this model, the same person about 0.93 and up. */
export const SIMILARITY_FLOOR = 0.75;
const INPUT_SIZE = 150;
const DIMS = 128;
/** Bounds activation memory when a caller hands over thousands of crops at once. */
const MAX_BATCH = 32;

export const CONVERT_HINT =
  'run `npx --no-install lookalike model convert-default` (or scripts/setup.sh) to convert the default model';
const CONVERT_INT8_HINT =
  'run `npx --no-install lookalike model convert-default --precision int8 --calibration <folder of face photos>` (see the README)';

export interface LoadOptions {
  modelsDir: string;
  device: Device;
  /**
   * ORT threads per inference; default one. Two shaved 1 ms off the network alone on the 2-core VM
   * but made `match` slower (64 against 60 ms, interleaved): the second thread takes the core
   * libvips and Node's own threads use meanwhile.
   */
  intraOpThreads?: number;
  /** fp32 (default) or the int8 graph. */
  precision?: Precision;
}

/** Packed RGB (HWC, uint8) crops into one float32 NCHW batch of raw 0..255 values. */
export function toNchwBatch(crops: readonly RgbImage[], size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, n) => {
    if (crop.width !== size || crop.height !== size || crop.data.length !== plane * 3) {
      throw new InferenceError(`face crop ${n} is ${crop.width}x${crop.height} (${crop.data.length} bytes); the model takes ${size}x${size} RGB`);
    }
    const base = n * 3 * plane;
    const { data } = crop;
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      out[base + i] = data[p]!;
      out[base + plane + i] = data[p + 1]!;
      out[base + 2 * plane + i] = data[p + 2]!;
    }
  });
  return out;
}

/**
 * dlib's face chip, which the network was trained on: get_face_chip_details(shape, 150, 0.25) maps
 * dlib's mean face shape (dlib/image_transforms/interpolation.h) into the chip with a padding of
 * 0.25 of the face on each side, so a mean-face point p lands at (p + 0.25) / 1.5 of the chip. Eyes:
 * the mean of each eye's six points (36-41, 42-47); nose: the tip (30); mouth: the mean of the inner
 * lip (60-67).
 */
const DLIB_MEAN_FACE = {
  rightEye: { x: 0.225492, y: 0.21599 },
  leftEye: { x: 0.754761, y: 0.21599 },
  nose: { x: 0.490127, y: 0.515625 },
  mouth: { x: 0.490126, y: 0.799073 },
};
/**
 * BlazeFace's nose and mouth points sit closer to the eyes than dlib's, so fitted to dlib's own
 * positions its faces came out a little small in the chip. Enlarging the template about the chip's
 * centre was swept on faces/people (d' of same-person against different-person cosines over all
 * pairs): 1.00: 4.90, 1.05: 5.06, 1.10: 5.14, 1.15: 5.05, 1.20: 4.90.
 */
const BLAZEFACE_ZOOM = 1.1;

export const DLIB_CHIP_TEMPLATE: FaceTemplate = Object.freeze(
  Object.fromEntries(
    Object.entries(DLIB_MEAN_FACE).map(([k, p]) => [k, { x: 0.5 + BLAZEFACE_ZOOM * ((p.x + 0.25) / 1.5 - 0.5), y: 0.5 + BLAZEFACE_ZOOM * ((p.y + 0.25) / 1.5 - 0.5) }]),
  ) as unknown as FaceTemplate,
);

/** The chip the model takes (its template and side): what int8 calibration aligns faces to. */
export const DEFAULT_MODEL_CHIP = Object.freeze({ template: DLIB_CHIP_TEMPLATE, size: INPUT_SIZE });

export interface FaceRecognitionNetEmbedder extends FaceEmbedder {
  /** The execution provider ORT runs on. */
  readonly provider: ExecutionProvider;
}

export async function load(opts: LoadOptions): Promise<FaceRecognitionNetEmbedder> {
  const precision = opts.precision ?? 'fp32';
  const { path: file, entry } = await verifyModel(opts.modelsDir, MANIFEST_IDS[precision], precision === 'int8' ? CONVERT_INT8_HINT : CONVERT_HINT);
  if (entry.inputSize !== INPUT_SIZE || entry.dims !== DIMS) {
    throw new InferenceError(`model '${MODEL_ID}' in the manifest is ${entry.inputSize}px/${entry.dims}-D, expected ${INPUT_SIZE}px/${DIMS}-D`);
  }
  const { session, provider } = await createSession(file, { device: opts.device, intraOpThreads: opts.intraOpThreads ?? 1 });

  async function runBatch(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const data = toNchwBatch(crops, INPUT_SIZE);
    const { embedding } = await runFloat32(session, { name: 'input', data, dims: [crops.length, 3, INPUT_SIZE, INPUT_SIZE] }, ['embedding']);
    if (!embedding || embedding.dims[0] !== crops.length || embedding.dims[1] !== DIMS) {
      throw new InferenceError(`model returned [${embedding?.dims.join(', ')}] for ${crops.length} crops`);
    }
    return crops.map((_, i) => embedding.data.slice(i * DIMS, (i + 1) * DIMS));
  }

  return {
    id: MODEL_ID,
    inputSize: INPUT_SIZE,
    descriptor: String(DIMS),
    dims: DIMS,
    template: DLIB_CHIP_TEMPLATE,
    precision,
    // For Haar boxes. Swept on deepface_pairs.csv and leave-one-out retrieval over shared/faces/people
    // (README, "Accuracy"): margin 0.2 gave AUC 0.958 / top-1 0.82; margin 0.1 shifted 5 % down, 1.000 / 0.956.
    framing: { margin: 0.1, shiftY: 0.05 },
    similarityFloor: SIMILARITY_FLOOR,
    provider,
    async predict(crops) {
      const out: Float32Array[] = [];
      for (let i = 0; i < crops.length; i += MAX_BATCH) out.push(...(await runBatch(crops.slice(i, i + MAX_BATCH))));
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}
