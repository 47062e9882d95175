import type { Device } from '../../config.ts';
import { fail, ok, type Result } from '../result.ts';
import type { FaceEmbedder, Precision } from './embedder.ts';

// Models by the name users pass to --model. Each entry loads lazily so that a process only pays for
// the runtime of the model it uses.

export interface ModelLoadOptions {
  modelsDir: string;
  device: Device;
  /** Model-specific variant, e.g. VGG-Face's descriptor layer ('4096' or '2622'). */
  descriptor?: string;
  /** ONNX Runtime threads per inference; default each model's own (see its load options). */
  intraOpThreads?: number;
  /** fp32 (default) or a quantised variant the model offers. */
  precision?: Precision;
}

type Loader = (opts: ModelLoadOptions) => Promise<FaceEmbedder>;

interface ModelSpec {
  load: Loader;
  /** The model's similarity floor (see FaceEmbedder), read without loading the model. */
  similarityFloor: () => Promise<number>;
  /** The descriptor variants the model offers; the first is its default. */
  descriptors: readonly string[];
  /** The precisions it has a graph for. */
  precisions: readonly Precision[];
}

const models: Record<string, ModelSpec> = {
  default: {
    descriptors: ['128'],
    precisions: ['fp32', 'int8'],
    load: async (opts) => (await import('./faceRecognitionNet.ts')).load(opts),
    similarityFloor: async () => (await import('./faceRecognitionNet.ts')).SIMILARITY_FLOOR,
  },
  vggface: {
    descriptors: ['4096', '2622'],
    precisions: ['fp32', 'int8'],
    load: async (opts) => (await import('./vggFace.ts')).load(opts),
    similarityFloor: async () => (await import('./vggFace.ts')).SIMILARITY_FLOOR,
  },
};

export function modelNames(): string[] {
  return Object.keys(models);
}

export async function loadModel(name: string, opts: ModelLoadOptions): Promise<Result<FaceEmbedder>> {
  const spec = models[name];
  if (!spec) return fail('unknown_model', `Unknown model "${name}". Known models: ${modelNames().join(', ')}.`);
  const { descriptor } = opts;
  if (descriptor !== undefined && spec.descriptors.length > 0 && !spec.descriptors.includes(descriptor)) {
    return fail('unknown_model', `Model "${name}" has no descriptor "${descriptor}"; it offers ${spec.descriptors.join(', ')}.`);
  }
  const precision = opts.precision ?? 'fp32';
  if (!spec.precisions.includes(precision)) {
    return fail('unknown_model', `Model "${name}" has no ${precision} variant; it runs in ${spec.precisions.join(' or ')}.`);
  }
  return ok(await spec.load(opts));
}

/** A model's similarity floor, without opening an inference session (`match --celebrity` needs only this). */
export async function similarityFloorOf(name: string): Promise<Result<number>> {
  const spec = models[name];
  if (!spec) return fail('unknown_model', `Unknown model "${name}". Known models: ${modelNames().join(', ')}.`);
  return ok(await spec.similarityFloor());
}
