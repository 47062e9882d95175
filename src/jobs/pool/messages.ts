import type { Device } from '../../config.ts';
import type { DetectorName } from '../../core/detect/detector.ts';
import type { Alignment } from '../../core/faces.ts';
import type { Precision } from '../../core/models/embedder.ts';
import type { FaceSource, GalleryInfo } from '../../core/gallery.ts';
import type { Failure, FailureCode } from '../../core/result.ts';
import type { Box } from '../../core/types.ts';
import type { FaceTask, PrepareOptions, StageTimings } from './prepareFace.ts';

// What the pool's main thread and its workers say to each other. Plain, structured-clone data only.

export interface WorkerInit {
  model: string;
  detector: DetectorName;
  descriptor?: string;
  precision?: Precision;
  modelsDir: string;
  device: Device;
  /** ORT threads per inference in this worker; 1 when every core has its own worker. */
  intraOpThreads: number;
  prepare: PrepareOptions;
  /** Images of a batch prepared at once, so that one waiting on libvips does not leave the thread idle. */
  concurrency: number;
}

export interface ModelInfo {
  modelId: string;
  descriptor: string;
  dims: number;
  inputSize: number;
  detector: DetectorName;
  alignment: Alignment;
  precision: Precision;
}

/** What an index records of the pipeline that built it. */
export function galleryInfoOf(info: ModelInfo): GalleryInfo {
  return { modelId: info.modelId, descriptor: info.descriptor, dims: info.dims, detector: info.detector, alignment: info.alignment, precision: info.precision ?? 'fp32' };
}

export type FaceTaskResult =
  | { key: number; ok: true; box: Box; source: FaceSource; descriptor: Float32Array; thumbnail: Uint8Array; photoYear?: number }
  | { key: number; ok: false; code: FailureCode; message: string };

export type ToWorker = { type: 'batch'; id: number; tasks: FaceTask[] } | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  /** The model could not be loaded for an expected reason (unknown model, bad descriptor). */
  | { type: 'failed'; failure: Failure }
  | { type: 'batch'; id: number; results: FaceTaskResult[]; timings: StageTimings }
  | { type: 'fatal'; name: string; message: string; stack?: string };
