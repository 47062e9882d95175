import type { ComposeLabels } from './compose.ts';
import type { Gender } from './gallery.ts';
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
  /** From the gallery's metadata, when it says. */
  gender?: Gender;
  /** The year the gallery photo was taken and the person's age in it, only when both are known and plausible. */
  photoYear?: number;
  age?: number;
}

export interface FaceResult {
  /** 1-based position among every face found in the photo, counted from the left (what a user asks for). */
  number?: number;
  box: Box;
  source: DetectedFace['source'];
  /** Best face of each identity, best first. */
  matches: Match[];
}

export interface MatchReport {
  /** Largest face first (or the one face asked for). */
  faces: FaceResult[];
  /** Faces found in the photo; more than `faces.length` when only the largest are matched. */
  facesFound: number;
  /** The reply picture (JPEG), when asked for. */
  composite: Buffer | null;
  modelId: string;
}

/** What a person chose for their answers: whom to be compared with, and the words of the reply picture. */
export interface PersonalOptions {
  /** Compare only with gallery faces of this gender (default: everyone). */
  gender?: Gender;
  /** The reply picture's words, in the asker's language (default English). */
  labels?: Partial<ComposeLabels>;
}

/** Which face of a group photo to match: its number from the left, or the one nearest the centre. */
export type FaceChoice = number | 'centre';

export interface MatchOptions extends PersonalOptions {
  /** Match only this face (default: the largest `maxFaces`). A number beyond the faces found fails with 'no_such_face'. */
  face?: FaceChoice;
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
  matchVideo?(input: VideoInput, opts?: VideoMatchOptions & PersonalOptions): AsyncIterable<VideoEvent>;
  /**
   * An animation from the user's face to their best match's and back: the photo is matched as by
   * `match` (one face: `opts.face`, else the largest), then both faces are aligned and morphed.
   * Optional for the same reason as matchVideo.
   */
  morph?(bytes: Uint8Array, opts?: MorphOptions): Promise<Result<MorphReport>>;
  close(): Promise<void>;
}

export interface MorphOptions extends PersonalOptions {
  face?: FaceChoice;
  /** 'gif' (Discord shows it inline) or 'mp4' (H.264, what Telegram plays as an animation). Default 'gif'. */
  format?: 'gif' | 'mp4';
  maxBytes?: number;
  maxPixels?: number;
  /** Stops the morph between stages (decode, detect and describe, search, warp, encode; ffmpeg is killed): it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface MorphReport {
  animation: Buffer;
  format: 'gif' | 'mp4';
  /** Frame size in pixels (square). */
  size: number;
  frames: number;
  durationMs: number;
  /** Landmark-guided warp, or a cross-dissolve when either face had no keypoints. */
  method: 'warp' | 'dissolve';
  /** The match the user's face morphs into. */
  match: Match;
  face: FaceResult;
  facesFound: number;
}
