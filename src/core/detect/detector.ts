import type { Device } from '../../config.ts';
import { load as loadBlazeFace } from '../models/blazeFace.ts';
import { fail, ok, type Result } from '../result.ts';
import type { DetectedFace, RgbImage } from '../types.ts';
import { detectFacesBlazeFace, type BlazeFaceOptions } from './blazeFaceDetector.ts';
import { detectFacesHaar } from './haar.ts';

// The face detectors by the name users pass to --detector. BlazeFace (a CNN with keypoints, on ONNX
// Runtime) is the default; the Haar cascade is the original research project's method, kept as an
// option. Indexes record which one built them, and a query must use the same.

export const DETECTORS = ['blazeface', 'haar'] as const;
export type DetectorName = (typeof DETECTORS)[number];
export const DEFAULT_DETECTOR: DetectorName = 'blazeface';

/** What a caller wants found. Detectors that cannot honour an option ignore it. */
export interface FaceSearch {
  /** The caller keeps this many faces, largest first (default: all). */
  maxFaces?: number;
  /** Faces smaller than this fraction of the largest are not wanted (default 0: all). */
  relativeMinFace?: number;
  /** Smallest face side wanted, in pixels. */
  minFaceSize?: number;
  /**
   * Faces scoring more than this below the photo's best face are dropped (default: none are). A
   * reply that shows a few faces wants only those the detector is about as sure of as its best.
   */
  scoreMargin?: number;
}

export interface FaceDetector {
  readonly name: DetectorName;
  /** Faces largest first. */
  detect(image: RgbImage, search?: FaceSearch): Promise<DetectedFace[]>;
  dispose(): Promise<void>;
}

export interface DetectorLoadOptions {
  modelsDir: string;
  device: Device;
  /** ONNX Runtime threads per inference; default the detector's own (one). */
  intraOpThreads?: number;
  /** BlazeFace tuning (tests and benchmarks). */
  blazeFace?: Partial<BlazeFaceOptions>;
}

export function isDetectorName(name: string): name is DetectorName {
  return (DETECTORS as readonly string[]).includes(name);
}

export async function loadDetector(name: string, opts: DetectorLoadOptions): Promise<Result<FaceDetector>> {
  if (!isDetectorName(name)) return fail('unknown_model', `Unknown detector "${name}". Known detectors: ${DETECTORS.join(', ')}.`);
  if (name === 'haar') {
    return ok({
      name,
      detect: async (image, search = {}) => (await detectFacesHaar(image)).slice(0, search.maxFaces ?? Infinity),
      dispose: async () => undefined,
    });
  }
  const model = await loadBlazeFace(opts);
  return ok({
    name,
    detect: async (image, { scoreMargin, ...search } = {}) => {
      const defined = Object.fromEntries(Object.entries(search).filter(([, v]) => v !== undefined));
      let faces = await detectFacesBlazeFace(model, image, { ...opts.blazeFace, ...defined });
      if (scoreMargin !== undefined) {
        const best = Math.max(...faces.map((f) => f.score!));
        faces = faces.filter((f) => f.score! >= best - scoreMargin);
      }
      return faces.slice(0, search.maxFaces ?? Infinity);
    },
    dispose: () => model.dispose(),
  });
}
