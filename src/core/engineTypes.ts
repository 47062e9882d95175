import type { Box, DetectedFace } from './types.ts';
import type { Result } from './result.ts';
import type { VideoEvent, VideoInput, VideoMatchOptions } from './video/types.ts';

// What the engine gives the CLI and the bots. Plain data only.

export interface Match {
  /** Identity name, e.g. "Lin-Manuel Miranda". */
  name: string;
  /** 0..100, from the cosine similarity of the descriptors. */
  similarity: number;
  /** Gallery image the matched face came from (path as recorded in the index). */
  image: string;
  /** Face box in that gallery image. */
  box: Box;
}

export interface FaceResult {
  box: Box;
  source: DetectedFace['source'];
  /** Best face of each identity, best first. */
  matches: Match[];
}

export interface MatchReport {
  /** Largest face first. */
  faces: FaceResult[];
  /** The reply picture (JPEG), when asked for. */
  composite: Buffer | null;
  modelId: string;
}

export interface MatchOptions {
  /** Identities per face (default 5). */
  top?: number;
  /** Render the reply picture (default true). */
  composite?: boolean;
  /** Largest faces to match in one photo (default 6). */
  maxFaces?: number;
  /** Overrides of the decode limits (bytes, pixels). */
  maxBytes?: number;
  maxPixels?: number;
  /** Stops the match between stages (decode, detect and describe, search, reply picture): it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface LookalikeEngine {
  readonly modelId: string;
  /** Number of faces in the gallery index. */
  readonly gallerySize: number;
  match(bytes: Uint8Array, opts?: MatchOptions): Promise<Result<MatchReport>>;
  /**
   * Matches the faces of a video as its bytes arrive: an 'update' event per processed frame, then
   * exactly one 'result' event (a typed failure, or each track's sharpest frame and the reply picture).
   * Optional so that photo-only test doubles still type-check; the real engine always has it.
   */
  matchVideo?(input: VideoInput, opts?: VideoMatchOptions): AsyncIterable<VideoEvent>;
  close(): Promise<void>;
}
