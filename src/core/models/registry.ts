import type { Device } from '../../config.ts';
import { fail, ok, type Result } from '../result.ts';
import type { FaceEmbedder } from './embedder.ts';

// Models by the name users pass to --model. Each entry loads lazily so that a process only pays for
// the runtime of the model it uses.

export interface ModelLoadOptions {
  modelsDir: string;
  device: Device;
  /** Model-specific variant, e.g. VGG-Face's descriptor layer ('4096' or '2622'). */
  descriptor?: string;
}

type Loader = (opts: ModelLoadOptions) => Promise<FaceEmbedder>;

const loaders: Record<string, Loader> = {
  default: async (opts) => (await import('./faceRecognitionNet.ts')).load(opts),
};

export function registerModel(name: string, loader: Loader): void {
  loaders[name] = loader;
}

export function modelNames(): string[] {
  return Object.keys(loaders);
}

export async function loadModel(name: string, opts: ModelLoadOptions): Promise<Result<FaceEmbedder>> {
  const loader = loaders[name];
  if (!loader) return fail('unknown_model', `Unknown model "${name}". Known models: ${modelNames().join(', ')}.`);
  return ok(await loader(opts));
}
