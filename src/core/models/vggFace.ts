import { availableParallelism } from 'node:os';
import type { Device } from '../../config.ts';
import { ConfigError, InferenceError, ModelLoadError } from '../errors.ts';
import { createSession, runFloat32, type ExecutionProvider, type SessionOptions } from '../runtime/ort.ts';
import { l2Normalise } from '../similarity.ts';
import type { RgbImage } from '../types.ts';
import type { FaceTemplate } from '../align.ts';
import type { FaceEmbedder, Precision } from './embedder.ts';
import { toNchwBatch } from './faceRecognitionNet.ts';
import { verifyModel, type ModelEntry } from './manifest.ts';

// VGG-Face on ONNX Runtime, from the user's vgg_face_weights.h5 converted by
// src/jobs/convertVggFace.ts. The graph takes raw RGB 0..255 in NCHW and does VGG-Face's own
// preprocessing (BGR, mean pixel subtracted, no scaling), so the work here is packing pixels,
// picking the descriptor layer and L2-normalising it.

export const MODEL_ID = 'vggface';
/** The manifest entry of each precision's graph (src/jobs/convertVggFace.ts writes both). */
export const MANIFEST_IDS: Record<Precision, string> = { fp32: 'vggface', int8: 'vggface-int8' };
/**
 * Unmeasured. fc7 follows a ReLU, so its cosines already lie in 0..1; sweep this on the shared pairs
 * once real weights are converted, as was done for the default model.
 */
export const SIMILARITY_FLOOR = 0;
/** Side of the crops VGG-Face takes. */
export const VGG_FACE_INPUT_SIZE = 224;
const INPUT_SIZE = VGG_FACE_INPUT_SIZE;
/** fc7 (4096-D, deepface's descriptor since 2024) unless the index or the user asks for fc8 (2622-D). */
export const DEFAULT_DESCRIPTOR = '4096';
export const DESCRIPTORS = ['4096', '2622'] as const;
/** A 224x224 VGG batch holds ~60 MB of activations per face at its widest layer. */
const MAX_BATCH = 8;

export const CONVERT_HINT =
  'download vgg_face_weights.h5 (see the README) and run `npx --no-install lookalike model convert-vggface <path/to/vgg_face_weights.h5>`';
const CONVERT_INT8_HINT =
  'run `npx --no-install lookalike model convert-vggface <path/to/vgg_face_weights.h5> --precision int8 --calibration <folder of face photos>` (see the README)';

export interface LoadOptions {
  modelsDir: string;
  device: Device;
  /** '4096' (fc7) or '2622' (fc8); default '4096'. */
  descriptor?: string;
  /** ORT threads per inference; default every core (vggFaceThreads()). */
  intraOpThreads?: number;
  graphOptimization?: SessionOptions['graphOptimization'];
  /** fp32 (default) or the int8 graph. */
  precision?: Precision;
}

/**
 * Threads per VGG-Face inference when the caller does not share the cores out: all of them. Its 15.5
 * GMAC split well (84-88 ms a face on 2 threads against 167-171 on one, bench VM), and ORT's own
 * default, one per physical core as it counts them, counted one core on the 2-core bench VM.
 */
export function vggFaceThreads(): number {
  return availableParallelism();
}

export const VGG_FACE_TEMPLATE: FaceTemplate = Object.freeze({
  rightEye: { x: 0.32, y: 0.4 },
  leftEye: { x: 0.68, y: 0.4 },
  nose: { x: 0.5, y: 0.58 },
  mouth: { x: 0.5, y: 0.75 },
});

/** The chip VGG-Face takes (its template and side): what int8 calibration aligns faces to. */
export const VGG_FACE_CHIP = Object.freeze({ template: VGG_FACE_TEMPLATE, size: INPUT_SIZE });

export interface VggFaceEmbedder extends FaceEmbedder {
  readonly provider: ExecutionProvider;
  /** The graph output the descriptor is read from: 'fc7' or 'fc8'. */
  readonly output: string;
}

function descriptorOf(entry: ModelEntry, descriptor: string): { output: string; dims: number } {
  const table = entry.descriptors as Record<string, { output?: unknown; dims?: unknown }> | undefined;
  const found = table?.[descriptor];
  if (!found || typeof found.output !== 'string' || typeof found.dims !== 'number') {
    throw new ModelLoadError(`the manifest entry for '${MODEL_ID}' lists no descriptor '${descriptor}'; ${CONVERT_HINT}`);
  }
  return { output: found.output, dims: found.dims };
}

export async function load(opts: LoadOptions): Promise<VggFaceEmbedder> {
  const descriptor = opts.descriptor ?? DEFAULT_DESCRIPTOR;
  if (!(DESCRIPTORS as readonly string[]).includes(descriptor)) {
    throw new ConfigError(`VGG-Face has no descriptor '${descriptor}': use ${DESCRIPTORS.join(' (fc7) or ')} (fc8)`);
  }
  const precision = opts.precision ?? 'fp32';
  const { path: file, entry } = await verifyModel(opts.modelsDir, MANIFEST_IDS[precision], precision === 'int8' ? CONVERT_INT8_HINT : CONVERT_HINT);
  if (entry.inputSize !== INPUT_SIZE) {
    throw new ModelLoadError(`model '${MODEL_ID}' in the manifest takes ${entry.inputSize}px crops, expected ${INPUT_SIZE}px; ${CONVERT_HINT}`);
  }
  const { output, dims } = descriptorOf(entry, descriptor);
  const { session, provider } = await createSession(file, {
    device: opts.device,
    intraOpThreads: opts.intraOpThreads ?? vggFaceThreads(),
    graphOptimization: opts.graphOptimization,
  });

  async function runBatch(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const data = toNchwBatch(crops, INPUT_SIZE);
    const result = (await runFloat32(session, { name: 'input', data, dims: [crops.length, 3, INPUT_SIZE, INPUT_SIZE] }, [output]))[output];
    if (!result || result.dims[0] !== crops.length || result.dims[1] !== dims) {
      throw new InferenceError(`model returned [${result?.dims.join(', ')}] for ${crops.length} crops, expected [${crops.length}, ${dims}]`);
    }
    // l2Normalise leaves an all-zero row (possible after fc7's ReLU) at zero instead of NaN.
    return crops.map((_, i) => l2Normalise(result.data.subarray(i * dims, (i + 1) * dims)));
  }

  return {
    id: MODEL_ID,
    inputSize: INPUT_SIZE,
    descriptor,
    dims,
    precision,
    output,
    // Not measured: that needs the real weights, which cannot be downloaded here. deepface, whose
    // VGG-Face accuracy figures the issue quotes, feeds the OpenCV Haar box as it is; so do we.
    framing: { margin: 0, shiftY: 0 },
    // Also a placeholder: VGG-Face was trained on loose detector boxes, not aligned chips. This puts
    // the eyes and mouth where they fall in a Haar box taken as it is (eyes at 40 % of the height,
    // 36 % of the side apart), upright.
    template: VGG_FACE_TEMPLATE,
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
