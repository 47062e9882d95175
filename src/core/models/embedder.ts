import type { FaceTemplate } from '../align.ts';
import type { RgbImage } from '../types.ts';

/**
 * Where the model's crop sits relative to a Haar-cascade box, for faces found without keypoints: a
 * margin on every side (a fraction of the box side) and a downward shift (a fraction of the box
 * height). The cascade's box sits higher and tighter than the face chips a model was trained on;
 * measured per model.
 */
export interface FaceFraming {
  margin: number;
  shiftY: number;
}

/** Numbers the model computes in: float32, or 8-bit integers (statically quantised, calibrated on face photos). */
export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * A face-descriptor model, as the rest of the pipeline sees it. Each model file (one per model)
 * exports `load()` returning this.
 */
export interface FaceEmbedder {
  /** Name used with --model and recorded in indexes, e.g. 'default' or 'vggface'. */
  readonly id: string;
  /** Side of the square RGB crop the model takes. */
  readonly inputSize: number;
  /** Which output the descriptor comes from, e.g. '128' or VGG-Face's '4096' (fc7) and '2622' (fc8); indexes record it. */
  readonly descriptor: string;
  /** Length of the descriptor. */
  readonly dims: number;
  /** The arithmetic its graph uses; indexes record it, since int8 descriptors differ a little from fp32 ones. Absent: fp32. */
  readonly precision?: Precision;
  /** Where the face's keypoints go in the model's chip: faces with keypoints are aligned to it (align.ts). */
  readonly template: FaceTemplate;
  /** How to frame a face found without keypoints (the Haar cascade's) for this model (see FaceFraming). */
  readonly framing: FaceFraming;
  /**
   * Cosine at or below which the shown similarity is 0 %; 1 maps to 100 %. Each model spreads
   * unrelated faces over its own range of cosines, so each sets its own floor.
   */
  readonly similarityFloor: number;
  /** One L2-normalised descriptor per crop; crops are inputSize x inputSize RGB. Batches and single crops share this path. */
  predict(crops: readonly RgbImage[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
