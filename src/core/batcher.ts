import type { FaceEmbedder } from './models/embedder.ts';
import type { RgbImage } from './types.ts';

// Faces of concurrent requests embedded together: one model call for several requests costs less
// per face than one call each (FaceRecognitionNet on 2 cores: about 30 % less CPU per face at a
// batch of 4; bench/concurrency.ts). No request waits for others to arrive: a call starts at once
// when the model is idle, and the faces that arrive while it runs go together in the next call. So a
// lone request is never slower, and batches form exactly when requests pile up. `windowMs` adds a
// short wait for company before an idle call, for measuring; the engine runs with 0.

export interface BatchOptions {
  /** Faces per model call at most. */
  maxBatch: number;
  /** How long an idle model waits for more faces before it runs (ms); 0 runs at once. */
  windowMs: number;
}

export const DEFAULT_BATCH_OPTIONS: Readonly<BatchOptions> = Object.freeze({ maxBatch: 16, windowMs: 0 });

interface Waiting {
  crops: readonly RgbImage[];
  resolve: (descriptors: Float32Array[]) => void;
  reject: (err: unknown) => void;
}

export interface BatchStats {
  calls: number;
  faces: number;
}

/** An embedder whose predict() calls from concurrent requests share model calls. */
export function batchedEmbedder(embedder: FaceEmbedder, opts: Partial<BatchOptions> = {}): FaceEmbedder & { readonly stats: BatchStats } {
  const { maxBatch, windowMs } = { ...DEFAULT_BATCH_OPTIONS, ...opts };
  const queue: Waiting[] = [];
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  const stats: BatchStats = { calls: 0, faces: 0 };

  const drain = async (): Promise<void> => {
    timer = null;
    if (running || queue.length === 0) return;
    running = true;
    // Whole requests, up to maxBatch faces (a request larger than that goes alone).
    const taken: Waiting[] = [];
    let faces = 0;
    while (queue.length > 0 && (taken.length === 0 || faces + queue[0]!.crops.length <= maxBatch)) {
      const next = queue.shift()!;
      taken.push(next);
      faces += next.crops.length;
    }
    try {
      const descriptors = await embedder.predict(taken.flatMap((w) => w.crops));
      stats.calls++;
      stats.faces += faces;
      let at = 0;
      for (const w of taken) {
        w.resolve(descriptors.slice(at, at + w.crops.length));
        at += w.crops.length;
      }
    } catch (err) {
      for (const w of taken) w.reject(err);
    } finally {
      running = false;
      if (queue.length > 0) void drain();
    }
  };

  return {
    ...embedder,
    id: embedder.id,
    stats,
    predict(crops) {
      if (crops.length === 0) return Promise.resolve([]);
      return new Promise<Float32Array[]>((resolve, reject) => {
        queue.push({ crops, resolve, reject });
        if (running || timer) return;
        if (windowMs > 0) timer = setTimeout(() => void drain(), windowMs);
        else void drain();
      });
    },
    dispose: () => embedder.dispose(),
  };
}
