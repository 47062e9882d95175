import { cropFace } from './faceCrop.ts';
import { detectFaces } from './detect.ts';
import type { FaceEmbedder } from './models/embedder.ts';
import type { DetectedFace, RgbImage } from './types.ts';

// Detect and describe: the part of the pipeline that index builds and matching share.

export interface DescribedFace extends DetectedFace {
  descriptor: Float32Array;
}

export async function describeFaces(image: RgbImage, model: FaceEmbedder, maxFaces: number): Promise<DescribedFace[]> {
  const detected = (await detectFaces(image)).slice(0, maxFaces);
  if (detected.length === 0) return [];
  const crops = await Promise.all(detected.map((face) => cropFace(image, face.box, { size: model.inputSize })));
  const descriptors = await model.predict(crops);
  return detected.map((face, i) => ({ ...face, descriptor: descriptors[i]! }));
}
