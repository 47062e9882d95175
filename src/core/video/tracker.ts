import { cosine, l2Normalise } from '../similarity.ts';
import type { Box, DetectionSource, RgbImage } from '../types.ts';
import { frameDifference, thumbnail, CUT_THRESHOLD } from './sceneCut.ts';
import { laplacianVariance } from './sharpness.ts';

// Faces followed from frame to frame. A face joins the track whose last box it overlaps and whose
// descriptor it resembles; a face that jumped (a cut, fast motion) or came back after a while away
// (the video cut to someone else) joins on a very close descriptor alone. Each track's descriptor is the mean of its normalised descriptors, normalised
// again, so its match steadies as frames agree.

export interface TrackedFace {
  box: Box;
  descriptor: Float32Array;
  source: DetectionSource;
}

export interface TrackerOptions {
  /** Cosine needed together with box overlap. */
  nearCosine: number;
  /** Cosine enough on its own. */
  farCosine: number;
  /** Overlap (IoU) that counts as the same place. */
  minIou: number;
  /** Frames a track may go unseen before only a very close descriptor (farCosine) can continue it. */
  maxMissed: number;
  /** Tracks kept at most; past it the least prominent one not seen in this frame is dropped. */
  maxTracks?: number;
}

/** Room kept around the face in a track's sharpest crop (a fraction of the box side): more than the reply picture's framing takes. */
export const CROP_MARGIN = 0.5;

/** The part of a frame around a face box (clipped to the frame), and the box in the crop's coordinates. */
export function cropAround(frame: RgbImage, box: Box, margin = CROP_MARGIN): { image: RgbImage; box: Box } {
  const side = Math.max(box.width, box.height) * (1 + 2 * margin);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x0 = Math.max(0, Math.floor(cx - side / 2));
  const y0 = Math.max(0, Math.floor(cy - side / 2));
  const x1 = Math.min(frame.width, Math.ceil(cx + side / 2));
  const y1 = Math.min(frame.height, Math.ceil(cy + side / 2));
  const width = Math.max(1, x1 - x0);
  const height = Math.max(1, y1 - y0);
  const data = Buffer.allocUnsafe(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * frame.width + x0) * 3;
    frame.data.copy(data, y * width * 3, from, from + width * 3);
  }
  return { image: { data, width, height }, box: { x: box.x - x0, y: box.y - y0, width: box.width, height: box.height } };
}

export class Track {
  frames = 0;
  /** Sum of its face areas over frames: how large and how long it was on screen. */
  prominence = 0;
  lastSeen = -1;
  /** The shot (count of cuts before it) the face was last seen in. */
  shot = 0;
  box: Box;
  private sum: Float32Array;
  sharpness = -1;
  /**
   * The sharpest sighting, cut out of its frame with room around the face (see cropAround): a track
   * keeps this, never a whole frame.
   */
  sharpestCrop: RgbImage | null = null;
  /** The face's box in sharpestCrop. */
  sharpestCropBox: Box;
  /** The face's box in the frame it was cut from. */
  sharpestBox: Box;
  sharpestSource: DetectionSource;
  sharpestAt = 0;
  /** Bumped when the mean descriptor changes, so the caller searches again only then. */
  version = 0;

  constructor(
    readonly id: number,
    face: TrackedFace,
  ) {
    this.box = face.box;
    this.sharpestBox = face.box;
    this.sharpestSource = face.source;
    this.sharpestCropBox = face.box;
    this.sum = new Float32Array(face.descriptor.length);
  }

  add(face: TrackedFace, frame: RgbImage, frameIndex: number, timeSec: number): void {
    const d = l2Normalise(face.descriptor);
    for (let i = 0; i < d.length; i++) this.sum[i]! += d[i]!;
    this.frames++;
    this.prominence += face.box.width * face.box.height;
    this.lastSeen = frameIndex;
    this.box = face.box;
    this.version++;
    const sharpness = laplacianVariance(frame, face.box);
    if (sharpness > this.sharpness) {
      this.sharpness = sharpness;
      const crop = cropAround(frame, face.box);
      this.sharpestCrop = crop.image;
      this.sharpestCropBox = crop.box;
      this.sharpestBox = face.box;
      this.sharpestSource = face.source;
      this.sharpestAt = timeSec;
    }
  }

  get descriptor(): Float32Array {
    return l2Normalise(this.sum);
  }
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export class FaceTracker {
  readonly tracks: Track[] = [];
  private nextId = 1;
  private lastThumb: Float32Array | null = null;
  /** Cuts between shots seen so far. */
  cuts = 0;

  constructor(private readonly opts: TrackerOptions) {}

  /** Assigns this frame's faces to tracks (new ones where none fits). */
  update(faces: readonly TrackedFace[], frame: RgbImage, frameIndex: number, timeSec: number): void {
    const thumb = thumbnail(frame);
    const cut = this.lastThumb !== null && frameDifference(thumb, this.lastThumb) > CUT_THRESHOLD;
    this.lastThumb = thumb;
    if (cut) this.cuts++;
    const shot = this.cuts;
    const pairs: { face: number; track: Track; score: number }[] = [];
    faces.forEach((face, fi) => {
      const d = l2Normalise(face.descriptor);
      for (const track of this.tracks) {
        // Overlap with a box from another shot, or from long ago, is chance.
        const recent = frameIndex - track.lastSeen <= this.opts.maxMissed;
        const overlap = recent && track.shot === shot ? iou(face.box, track.box) : 0;
        const cos = cosine(d, track.descriptor);
        const fits = (overlap >= this.opts.minIou && cos >= this.opts.nearCosine) || cos >= this.opts.farCosine;
        if (fits) pairs.push({ face: fi, track, score: overlap + cos });
      }
    });
    pairs.sort((a, b) => b.score - a.score);
    const usedFaces = new Set<number>();
    const usedTracks = new Set<Track>();
    for (const { face, track } of pairs) {
      if (usedFaces.has(face) || usedTracks.has(track)) continue;
      usedFaces.add(face);
      usedTracks.add(track);
      track.add(faces[face]!, frame, frameIndex, timeSec);
      track.shot = shot;
    }
    faces.forEach((face, fi) => {
      if (usedFaces.has(fi)) return;
      const track = new Track(this.nextId++, face);
      track.add(face, frame, frameIndex, timeSec);
      track.shot = shot;
      this.tracks.push(track);
    });
    this.dropExcess(frameIndex);
  }

  // A crowd, or a detector that sees faces in noise, would otherwise add tracks for as long as the video runs.
  private dropExcess(frameIndex: number): void {
    const max = this.opts.maxTracks;
    if (max === undefined || this.tracks.length <= max) return;
    const droppable = this.tracks.filter((t) => t.lastSeen !== frameIndex).sort((a, b) => a.prominence - b.prominence || b.id - a.id);
    const drop = new Set(droppable.slice(0, this.tracks.length - max));
    for (let i = this.tracks.length - 1; i >= 0; i--) if (drop.has(this.tracks[i]!)) this.tracks.splice(i, 1);
  }

  /**
   * Most prominent first. Counting frames alone would crown a blurry face in a crowd shot held for
   * long over the person the video is about, seen large.
   */
  ranked(): Track[] {
    return [...this.tracks].sort((a, b) => b.prominence - a.prominence || a.id - b.id);
  }
}
