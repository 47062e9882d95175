import { alignFace } from './align.ts';
import type { FaceDetector, FaceSearch } from './detect/detector.ts';
import { cropFace } from './faceCrop.ts';
import type { FaceEmbedder, FaceFraming } from './models/embedder.ts';
import type { Box, DetectedFace, FaceKeypoints, RgbImage } from './types.ts';

// Detect, align and describe: the part of the pipeline that index builds, photos and videos share.

export interface DescribedFace extends DetectedFace {
  descriptor: Float32Array;
}

/** A detector and a descriptor model: what turns a picture into descriptors. */
export interface FacePipeline {
  detector: FaceDetector;
  embedder: FaceEmbedder;
}

/** The alignment a pipeline uses, as indexes record it: keypoints to the model's template, or the box framed. */
export type Alignment = 'keypoints' | 'box';

export function alignmentOf(detector: FaceDetector['name']): Alignment {
  return detector === 'haar' ? 'box' : 'keypoints';
}

export async function describeFaces(image: RgbImage, pipeline: FacePipeline, search: FaceSearch = {}): Promise<DescribedFace[]> {
  return describeDetected(image, await pipeline.detector.detect(image, search), pipeline.embedder);
}

/** Descriptors of faces already found (a caller that chose some of a photo's faces). */
export async function describeDetected<F extends DetectedFace>(image: RgbImage, detected: readonly F[], embedder: FaceEmbedder): Promise<(F & { descriptor: Float32Array })[]> {
  if (detected.length === 0) return [];
  const chips = await Promise.all(detected.map((face) => chipForModel(image, face, embedder)));
  const descriptors = await embedder.predict(chips);
  return detected.map((face, i) => ({ ...face, descriptor: descriptors[i]! }));
}

/** The detected box moved and widened to the framing the model was trained on. */
export function frameFace(box: Box, framing: FaceFraming): { box: Box; margin: number } {
  return { box: { ...box, y: Math.round(box.y + framing.shiftY * box.height) }, margin: framing.margin };
}

/**
 * The model's input for one face: aligned to the model's template by the face's keypoints, or, for a
 * face found without keypoints (Haar, a dataset's box), its box framed as the model expects.
 */
export function chipForModel(image: RgbImage, face: { box: Box; keypoints?: FaceKeypoints }, model: FaceEmbedder): Promise<RgbImage> {
  if (face.keypoints) return alignFace(image, face.keypoints, model.template, model.inputSize);
  const framed = frameFace(face.box, model.framing);
  return cropFace(image, framed.box, { size: model.inputSize, margin: framed.margin });
}

/** Faces shown to people (the reply picture, gallery thumbnails) get more room than the model's crop. */
export const DISPLAY_MARGIN = 0.3;

/**
 * The square shown to people: the box with DISPLAY_MARGIN around it, moved and if need be shrunk to
 * stay inside the photo, so that a face near an edge, or a tight face crop, shows photo instead of
 * black bars. Only a face larger than the photo's short side is padded.
 */
export function displaySquare(box: Box, imageW: number, imageH: number): Box {
  const side = Math.min(Math.round(Math.max(box.width, box.height) * (1 + 2 * DISPLAY_MARGIN)), Math.min(imageW, imageH));
  const grown = Math.max(side, box.width, box.height);
  const clamp = (start: number, length: number, limit: number) => Math.min(Math.max(0, start), Math.max(0, limit - length));
  const x = clamp(Math.round(box.x + box.width / 2 - grown / 2), grown, imageW);
  const y = clamp(Math.round(box.y + box.height / 2 - grown / 2), grown, imageH);
  return { x, y, width: grown, height: grown };
}

export function cropForDisplay(image: RgbImage, box: Box, size: number): Promise<RgbImage> {
  return cropFace(image, displaySquare(box, image.width, image.height), { size, margin: 0 });
}
