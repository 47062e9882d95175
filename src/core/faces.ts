import { cropFace } from './faceCrop.ts';
import { detectFaces } from './detect.ts';
import type { FaceEmbedder, FaceFraming } from './models/embedder.ts';
import type { Box, DetectedFace, RgbImage } from './types.ts';

// Detect and describe: the part of the pipeline that index builds and matching share.

export interface DescribedFace extends DetectedFace {
  descriptor: Float32Array;
}

export async function describeFaces(image: RgbImage, model: FaceEmbedder, maxFaces: number): Promise<DescribedFace[]> {
  const detected = (await detectFaces(image)).slice(0, maxFaces);
  if (detected.length === 0) return [];
  const crops = await Promise.all(detected.map((face) => cropForModel(image, face.box, model)));
  const descriptors = await model.predict(crops);
  return detected.map((face, i) => ({ ...face, descriptor: descriptors[i]! }));
}

/** The detected box moved and widened to the framing the model was trained on. */
export function frameFace(box: Box, framing: FaceFraming): { box: Box; margin: number } {
  return { box: { ...box, y: Math.round(box.y + framing.shiftY * box.height) }, margin: framing.margin };
}

export function cropForModel(image: RgbImage, box: Box, model: FaceEmbedder): Promise<RgbImage> {
  const framed = frameFace(box, model.framing);
  return cropFace(image, framed.box, { size: model.inputSize, margin: framed.margin });
}

/** Faces shown to people (the reply picture, gallery thumbnails) get more room than the model's crop. */
export const DISPLAY_MARGIN = 0.3;

export function cropForDisplay(image: RgbImage, box: Box, size: number): Promise<RgbImage> {
  return cropFace(image, box, { size, margin: DISPLAY_MARGIN });
}
