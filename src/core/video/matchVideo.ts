import type { FaceResult, Match } from '../engineTypes.ts';
import { matchOf } from '../matchOf.ts';
import type { DescribedFace } from '../faces.ts';
import type { GalleryHit } from '../gallery.ts';
import { fail, ok, type Result } from '../result.ts';
import type { Box, RgbImage } from '../types.ts';
import { decodeFrames, type DecodeSummary } from './ffmpegFrames.ts';
import { FaceTracker, type Track } from './tracker.ts';
import type { TrackSummary, VideoEvent, VideoInput, VideoMatchOptions, VideoReport, VideoTrackResult, VideoUpdate } from './types.ts';

// The streaming matcher: frames from ffmpeg, faces described in each, followed as tracks, each track
// searched in the gallery by its mean descriptor. An update after every processed frame; the final
// result carries each track's sharpest frame and the reply picture.

export interface VideoMatchDeps {
  modelId: string;
  similarityFloor: number;
  describe(image: RgbImage, maxFaces: number): Promise<DescribedFace[]>;
  search(descriptor: Float32Array, top: number): GalleryHit[];
  /** The reply picture, drawn as for a photo: one row per (frame, face box, hits). */
  compose(rows: { image: RgbImage; box: Box; hits: GalleryHit[] }[]): Promise<Buffer>;
}

export const VIDEO_DEFAULTS = Object.freeze({
  fps: 4,
  maxSeconds: 60,
  maxBytes: 20 * 1024 * 1024,
  maxWidth: 640,
  maxPixels: 640 * 1138,
  maxTracks: 24,
  top: 5,
  maxFacesPerFrame: 4,
  maxCompositeRows: 3,
});

const toMatch = (hit: GalleryHit): Match => matchOf(hit);

export async function* matchVideoStream(input: VideoInput, deps: VideoMatchDeps, opts: VideoMatchOptions = {}): AsyncGenerator<VideoEvent> {
  const o = { ...VIDEO_DEFAULTS, ...opts };
  const started = performance.now();
  const floor = deps.similarityFloor;
  const tracker = new FaceTracker({ nearCosine: floor + 0.4 * (1 - floor), farCosine: floor + 0.7 * (1 - floor), minIou: 0.3, maxMissed: o.fps * 2, maxTracks: o.maxTracks });
  // Weak: a track the tracker drops takes its search results with it.
  const hits = new WeakMap<Track, { version: number; hits: GalleryHit[] }>();
  const searchTrack = (track: Track): GalleryHit[] => {
    const cached = hits.get(track);
    if (cached && cached.version === track.version) return cached.hits;
    const found = deps.search(track.descriptor, o.top);
    hits.set(track, { version: track.version, hits: found });
    return found;
  };
  const summary = (track: Track): TrackSummary => ({ id: track.id, frames: track.frames, box: track.box, matches: searchTrack(track).map(toMatch) });

  const frames = decodeFrames(input, {
    fps: o.fps,
    maxSeconds: o.maxSeconds,
    maxBytes: o.maxBytes,
    maxWidth: o.maxWidth,
    maxPixels: o.maxPixels,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  let processed = 0;
  let decodedEnd: Result<DecodeSummary>;
  // A caller that stops listening early must also stop ffmpeg.
  try {
    for (;;) {
      const next = await frames.next();
      if (next.done) {
        decodedEnd = next.value;
        break;
      }
      const { image, index, timeSec } = next.value;
      opts.signal?.throwIfAborted();
      const faces = await deps.describe(image, o.maxFacesPerFrame);
      tracker.update(faces, image, index, timeSec);
      processed++;
      yield {
        kind: 'update',
        update: { framesDecoded: index + 1, framesProcessed: processed, elapsedMs: performance.now() - started, tracks: tracker.ranked().map(summary) },
      };
    }
  } finally {
    await frames.return(fail('corrupt_video', 'stopped'));
  }
  if (!decodedEnd.ok) {
    yield { kind: 'result', result: decodedEnd };
    return;
  }
  const ranked = tracker.ranked();
  if (ranked.length === 0) {
    yield { kind: 'result', result: fail('no_face', 'No face found in the video. Try one with your face well lit, looking at the camera.') };
    return;
  }
  opts.signal?.throwIfAborted();
  const tracks: VideoTrackResult[] = ranked.map((track) => ({
    ...summary(track),
    sharpestCrop: track.sharpestCrop!,
    sharpestCropBox: track.sharpestCropBox,
    sharpestBox: track.sharpestBox,
    sharpness: track.sharpness,
    sharpestAt: track.sharpestAt,
  }));
  // Faces seen in a single frame are mostly detector noise; draw them only when nothing else was seen.
  const drawn = ranked.filter((t, i) => (i === 0 || t.frames > 1) && searchTrack(t).length > 0).slice(0, o.maxCompositeRows);
  const faces: FaceResult[] = drawn.map((t) => ({ box: t.sharpestBox, source: t.sharpestSource, matches: searchTrack(t).map(toMatch) }));
  const composite =
    opts.composite === false || drawn.length === 0
      ? null
      : await deps.compose(drawn.map((t) => ({ image: t.sharpestCrop!, box: t.sharpestCropBox, hits: searchTrack(t) })));
  const report: VideoReport = {
    tracks,
    framesDecoded: decodedEnd.value.frames,
    framesProcessed: processed,
    elapsedMs: performance.now() - started,
    durationSec: decodedEnd.value.durationSec ?? decodedEnd.value.frames / o.fps,
    spooled: decodedEnd.value.spooled,
    faces,
    composite,
    modelId: deps.modelId,
  };
  yield { kind: 'result', result: ok(report) };
}

/** Runs a video match to its end, handing each update to onUpdate; the final result. */
export async function lastResult(events: AsyncIterable<VideoEvent>, onUpdate?: (update: VideoUpdate) => void | Promise<void>): Promise<Result<VideoReport>> {
  for await (const event of events) {
    if (event.kind === 'result') return event.result;
    await onUpdate?.(event.update);
  }
  throw new Error('video match ended without a result');
}
