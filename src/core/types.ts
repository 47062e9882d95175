// Plain data shared by the pipeline stages. No chat-platform types, ever.

/** Pixel rectangle in the coordinates of the decoded (orientation-corrected) image. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Decoded image: packed 8-bit RGB, rows top to bottom, orientation already applied. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/**
 * Facial keypoints in image pixels, as the CNN detector finds them. Right and left are the person's
 * own: in an unmirrored photo their right eye is on the image's left.
 */
export interface FaceKeypoints {
  rightEye: Point;
  leftEye: Point;
  /** Tip of the nose. */
  nose: Point;
  /** Centre of the mouth. */
  mouth: Point;
  rightEar: Point;
  leftEar: Point;
}

/** Which detector found a face: the CNN ('blazeface'), the Haar cascade, or a tight crop taken whole. */
export type DetectionSource = 'blazeface' | 'cascade' | 'whole_image';

export interface DetectedFace {
  box: Box;
  source: DetectionSource;
  /** The detector's confidence, 0..1 (the CNN's only). */
  score?: number;
  /** Where the face's features are (the CNN's only); alignment uses them. */
  keypoints?: FaceKeypoints;
}
