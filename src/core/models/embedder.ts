import type { RgbImage } from '../types.ts';

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
  /** One L2-normalised descriptor per crop; crops are inputSize x inputSize RGB. Batches and single crops share this path. */
  predict(crops: readonly RgbImage[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
