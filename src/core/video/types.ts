import type { FaceResult, Match } from '../engineTypes.ts';
import type { Result } from '../result.ts';
import type { Box, RgbImage } from '../types.ts';

// What the streaming video matcher gives its callers. Plain data only.

/** Video bytes as they arrive (a download stream, a Readable) or all at once. */
export type VideoInput = Uint8Array | AsyncIterable<Uint8Array>;

export interface VideoMatchOptions {
  /** Frames sampled per second of video (default 4). */
  fps?: number;
  /** Longest video accepted, in seconds (default 60). */
  maxSeconds?: number;
  /** Largest input accepted, in bytes (default 20 MB). */
  maxBytes?: number;
  /** Frames are scaled down to at most this width (default 640)... */
  maxWidth?: number;
  /** ...and to at most this many pixels (default 640 x 1138, a 9:16 portrait frame at that width), whatever their shape. */
  maxPixels?: number;
  /** Face tracks kept at most (default 24); past it the least prominent is dropped. */
  maxTracks?: number;
  /** Stops the match: ffmpeg is killed and the iteration throws the signal's reason. */
  signal?: AbortSignal;
  /** Identities per track (default 5). */
  top?: number;
  /** Largest faces described per frame (default 4). */
  maxFacesPerFrame?: number;
  /** Render the reply picture (default true). */
  composite?: boolean;
  /** Most tracks drawn in the reply picture (default 3). */
  maxCompositeRows?: number;
}

export interface TrackSummary {
  id: number;
  /** Frames the face was seen in. */
  frames: number;
  /** Its box in the last frame it was seen in. */
  box: Box;
  /** From the mean of its descriptors, best first. */
  matches: Match[];
}

export interface VideoUpdate {
  framesDecoded: number;
  framesProcessed: number;
  elapsedMs: number;
  /** Most prominent first (face area summed over frames). */
  tracks: TrackSummary[];
}

export interface VideoTrackResult extends TrackSummary {
  /** The face in the sharpest frame it was seen in, cut out with room around it, and the face's box in that crop. */
  sharpestCrop: RgbImage;
  sharpestCropBox: Box;
  /** The face's box in that frame. */
  sharpestBox: Box;
  sharpness: number;
  /** Seconds into the video of that frame. */
  sharpestAt: number;
}

export interface VideoReport {
  /** Most prominent first (face area summed over frames); the first is the main track. */
  tracks: VideoTrackResult[];
  framesDecoded: number;
  framesProcessed: number;
  elapsedMs: number;
  /** Seconds of video decoded. */
  durationSec: number;
  /** True when the input had to be written to a temporary file first (MP4 with its index at the end). */
  spooled: boolean;
  /** The tracks drawn in the reply picture, in its row order, shaped like a photo's faces (so a video's report reads like a photo's). */
  faces: FaceResult[];
  composite: Buffer | null;
  modelId: string;
}

export type VideoEvent = { kind: 'update'; update: VideoUpdate } | { kind: 'result'; result: Result<VideoReport> };
