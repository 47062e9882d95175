import type { Device } from '../../config.ts';
import { InferenceError } from '../errors.ts';
import { createSession, runFloat32, type ExecutionProvider } from '../runtime/ort.ts';
import type { Point } from '../types.ts';
import { verifyModel } from './manifest.ts';

// MediaPipe BlazeFace (full range) on ONNX Runtime: one run over an image of any size whose sides
// are multiples of 32 (src/jobs/convertBlazeFace.ts frees the input size). Anchors are MediaPipe's
// SSD layout with fixed anchor size: every cell of the stride-16 grid has 2 anchors and every cell of
// the stride-32 grid 6, centred on the cell; each regresses a box centre offset, a box size and six
// keypoint offsets, all in input pixels. This file decodes them; finding faces of every size in a
// photo (a pyramid of runs, blending overlaps) is src/core/detect/blazeFaceDetector.ts.

export const MODEL_ID = 'blazeface';
const INPUT = 'input:0';
/** [scores, regressors] per anchor grid, in the order the grids are laid out. */
const GRIDS = [
  { stride: 16, perCell: 2, scores: 'Identity:0', regressors: 'Identity_2:0' },
  { stride: 32, perCell: 6, scores: 'Identity_1:0', regressors: 'Identity_3:0' },
] as const;
const REGRESSOR_WIDTH = 16;
export const KEYPOINTS = 6;
/** Input sides must be multiples of the coarsest stride. */
export const SIZE_MULTIPLE = 32;

export const CONVERT_HINT = 'run `npx --no-install lookalike model convert-default` (or scripts/setup.sh) to install the face detector';

export interface RawDetection {
  /** Sigmoid of the anchor's logit, 0..1. */
  score: number;
  /** Box centre and size, in input pixels. */
  cx: number;
  cy: number;
  width: number;
  height: number;
  /** MediaPipe's order: right eye, left eye, nose tip, mouth centre, right ear, left ear (the person's right and left). */
  keypoints: Point[];
}

export interface BlazeFaceLoadOptions {
  modelsDir: string;
  device: Device;
  /**
   * ORT threads per inference; default one. The network is ~100 small layers: on the 2-core VM two
   * threads made detection slower (29 against 21 ms a 1-2.5 MP photo, interleaved).
   */
  intraOpThreads?: number;
}

export interface BlazeFaceModel {
  readonly provider: ExecutionProvider;
  /**
   * Runs the network on one NHWC float image with values in [-1, 1] and returns every anchor whose
   * score is at least minScore. width and height must be multiples of SIZE_MULTIPLE.
   */
  predict(input: Float32Array, width: number, height: number, minScore: number): Promise<RawDetection[]>;
  dispose(): Promise<void>;
}

/** Anchor centres of one input size, in the order of the concatenated grids. */
function anchorCentres(width: number, height: number): Float32Array {
  const out: number[] = [];
  for (const { stride, perCell } of GRIDS) {
    const cols = width / stride;
    const rows = height / stride;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        for (let a = 0; a < perCell; a++) out.push((x + 0.5) * stride, (y + 0.5) * stride);
      }
    }
  }
  return Float32Array.from(out);
}

const logit = (p: number) => Math.log(p / (1 - p));

export async function load(opts: BlazeFaceLoadOptions): Promise<BlazeFaceModel> {
  const { path: file } = await verifyModel(opts.modelsDir, MODEL_ID, CONVERT_HINT);
  // Every photo brings levels of new sizes: without ORT's per-shape memory pattern, `match`'s first
  // pass over the shared 1-2.5 MP photos took a median 66-70 ms against 79 (bench VM, two runs each).
  const { session, provider } = await createSession(file, { device: opts.device, intraOpThreads: opts.intraOpThreads ?? 1, shapesVary: true });
  const anchorCache = new Map<string, Float32Array>();
  const anchorsFor = (width: number, height: number): Float32Array => {
    const key = `${width}x${height}`;
    let anchors = anchorCache.get(key);
    if (!anchors) {
      anchors = anchorCentres(width, height);
      // A video or a stream of same-sized photos reuses a handful of sizes; anything else is rare.
      if (anchorCache.size > 32) anchorCache.clear();
      anchorCache.set(key, anchors);
    }
    return anchors;
  };

  return {
    provider,
    async predict(input, width, height, minScore) {
      if (width % SIZE_MULTIPLE !== 0 || height % SIZE_MULTIPLE !== 0 || input.length !== width * height * 3) {
        throw new InferenceError(`detector input is ${width}x${height} (${input.length} floats); sides must be multiples of ${SIZE_MULTIPLE}`);
      }
      const outputs = await runFloat32(
        session,
        { name: INPUT, data: input, dims: [1, height, width, 3] },
        GRIDS.flatMap((g) => [g.scores, g.regressors]),
      );
      const anchors = anchorsFor(width, height);
      // Compare logits, not probabilities: one exp per anchor that passes instead of per anchor.
      const minLogit = logit(Math.min(Math.max(minScore, 1e-6), 1 - 1e-6));
      const found: RawDetection[] = [];
      let base = 0;
      for (const grid of GRIDS) {
        const scores = outputs[grid.scores]!.data;
        const boxes = outputs[grid.regressors]!.data;
        const count = (width / grid.stride) * (height / grid.stride) * grid.perCell;
        if (scores.length !== count || boxes.length !== count * REGRESSOR_WIDTH) {
          throw new InferenceError(`detector returned ${scores.length} anchors for a ${width}x${height} input, expected ${count}`);
        }
        for (let i = 0; i < count; i++) {
          const raw = scores[i]!;
          if (raw < minLogit) continue;
          const ax = anchors[2 * (base + i)]!;
          const ay = anchors[2 * (base + i) + 1]!;
          const r = i * REGRESSOR_WIDTH;
          const keypoints: Point[] = [];
          for (let k = 0; k < KEYPOINTS; k++) keypoints.push({ x: ax + boxes[r + 4 + 2 * k]!, y: ay + boxes[r + 5 + 2 * k]! });
          found.push({
            score: 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, raw)))),
            cx: ax + boxes[r]!,
            cy: ay + boxes[r + 1]!,
            width: boxes[r + 2]!,
            height: boxes[r + 3]!,
            keypoints,
          });
        }
        base += count;
      }
      return found;
    },
    async dispose() {
      await session.release();
    },
  };
}
