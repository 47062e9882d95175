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

export interface DetectedFace {
  box: Box;
  /** 'cascade' when the Haar cascade found it; 'whole_image' when a tight crop was taken as the face. */
  source: 'cascade' | 'whole_image';
}
