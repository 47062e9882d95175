import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Device } from '../config.ts';
import { logger } from '../log.ts';
import { encodeGif, encodeMp4 } from './animation.ts';
import { batchedEmbedder, type BatchOptions, type BatchStats } from './batcher.ts';
import { composeReply, MAX_RUNNERS_UP, tileSizes, type ComposeLabels, type ComposeMatch, type ComposeRow } from './compose.ts';
import { decodeImage, sniffImageFormat } from './decode.ts';
import type { FaceChoice, FaceResult, LookalikeEngine, MatchOptions, MatchReport, MorphOptions, MorphReport, PersonalOptions } from './engineTypes.ts';
import { ConfigError } from './errors.ts';
import { loadDetector, type FaceSearch } from './detect/detector.ts';
import { alignmentOf, cropForDisplay, describeDetected, describeFaces, type DescribedFace, type FacePipeline } from './faces.ts';
import { Gallery, type Gender, type GalleryHit } from './gallery.ts';
import { matchOf } from './matchOf.ts';
import type { Precision } from './models/embedder.ts';
import { morphFrames, type MorphFace } from './morph.ts';
import { loadModel } from './models/registry.ts';
import { fail, ok, type Failure, type Result } from './result.ts';
import { startJpegDecoder } from './runtime/jpegWasm.ts';
import { setImageThreads } from './runtime/sharp.ts';
import type { Box, DetectedFace, RgbImage } from './types.ts';
import { thumbnailTiles } from './tiles.ts';
import { matchVideoStream } from './video/matchVideo.ts';
import type { VideoEvent, VideoInput, VideoMatchOptions } from './video/types.ts';

const log = logger('engine');

export interface EngineOptions {
  dataDir: string;
  modelsDir: string;
  device?: Device;
  /** Model name; by default the one that built the index. Another model than the index's is refused. */
  model?: string;
  /** Face detector; by default the one that built the index. Another detector than the index's is refused. */
  detector?: string;
  /** The model's precision; by default the index's. Another one than the index's is refused. */
  precision?: Precision;
  /**
   * ONNX Runtime threads per inference. By default each model's own choice: one for the small
   * detector and descriptor (their many small layers lose more to thread hand-offs than they gain),
   * every core for VGG-Face. A service running several requests at once: intraOpThreadsFor.
   */
  intraOpThreads?: number;
  /**
   * libvips threads per image operation, set for the whole process when the engine opens (default:
   * every core; a service running several requests at once: intraOpThreadsFor).
   */
  imageThreads?: number;
  /** How faces of concurrent requests share embedding calls (batcher.ts); false embeds each request alone. */
  batching?: Partial<BatchOptions> | false;
}

/**
 * ONNX Runtime and libvips threads per request for a process that runs `concurrent` requests at once:
 * the cores shared out, at least one each. With two requests in flight on two cores, one thread each gave 5-38 %
 * more photos per second than two each, and a lower median latency, in five runs of bench/concurrency.ts.
 * A process running one request at a time keeps every core (on the 2-core bench VM one thread was faster
 * even then in most runs; larger machines were not measured).
 */
export function intraOpThreadsFor(concurrent: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, Math.floor(concurrent))));
}

/** The index directory inside a data directory. */
export function indexDir(dataDir: string): string {
  return path.join(dataDir, 'index');
}

/** Thrown by openEngine when the engine cannot start for an expected reason (no index, wrong model). */
export class EngineUnavailableError extends ConfigError {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

/**
 * A reply shows a photo's few largest faces; a face under this fraction of the largest one's side is
 * someone in the background, and not looking for such faces spares the detector its finest levels.
 */
const MATCH_RELATIVE_MIN_FACE = 0.4;
/**
 * Faces the detector is less sure of than this below the photo's best are not shown: on the shared
 * photos, faces score 0.88-0.97 and the false ones that pass the detector's threshold 0.75-0.83.
 */
const MATCH_SCORE_MARGIN = 0.1;
/** How `match` searches a photo (and a video's frames) for faces. */
export const matchSearch = (maxFaces: number): FaceSearch => ({ maxFaces, relativeMinFace: MATCH_RELATIVE_MIN_FACE, scoreMargin: MATCH_SCORE_MARGIN });

/**
 * Faces counted in a photo, of which the largest few are matched: enough for a class photo, so that a
 * reply can say "6 of 30 faces" and a user can ask for face 17.
 */
export const MAX_FACES_COUNTED = 64;
/** Side of the morph's frames, in pixels. */
const MORPH_SIZE = 256;

/** Numbers the faces from the left (by box centre), as a user looking at the photo would count them. */
export function numberFromLeft<F extends { box: Box }>(faces: readonly F[]): (F & { number: number })[] {
  const order = faces.map((f, i) => ({ i, x: f.box.x + f.box.width / 2, y: f.box.y + f.box.height / 2 })).sort((a, b) => a.x - b.x || a.y - b.y);
  const numbers = new Array<number>(faces.length);
  order.forEach((o, rank) => (numbers[o.i] = rank + 1));
  return faces.map((f, i) => ({ ...f, number: numbers[i]! }));
}

/** The faces a request matches: the one asked for, or the largest `maxFaces` (faces come largest first). */
export function chooseFaces<F extends { box: Box; number: number }>(faces: readonly F[], choice: FaceChoice | undefined, maxFaces: number, image: { width: number; height: number }): Result<F[]> {
  if (choice === undefined) return ok(faces.slice(0, maxFaces));
  if (choice === 'centre') {
    const cx = image.width / 2;
    const cy = image.height / 2;
    const distance = (f: F) => Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy);
    return ok([faces.reduce((a, b) => (distance(b) < distance(a) ? b : a))]);
  }
  const face = faces.find((f) => f.number === choice);
  if (!face) {
    const message = faces.length === 1 ? 'There is only one face in this photo.' : `There are ${faces.length} faces in this photo; ask for one from 1 to ${faces.length}, counted from the left.`;
    return { ok: false, error: { code: 'no_such_face', message, faces: faces.length } };
  }
  return ok([face]);
}

export class Engine implements LookalikeEngine {
  private readonly model: FacePipeline['embedder'];

  constructor(
    private readonly gallery: Gallery,
    private readonly pipeline: FacePipeline,
  ) {
    this.model = pipeline.embedder;
  }

  get modelId(): string {
    return this.model.id;
  }

  get gallerySize(): number {
    return this.gallery.size;
  }

  /** Embedding calls made and faces embedded in them, when faces of concurrent requests share calls. */
  get embeddingStats(): BatchStats | null {
    return 'stats' in this.model ? (this.model.stats as BatchStats) : null;
  }

  async match(bytes: Uint8Array, opts: MatchOptions = {}): Promise<Result<MatchReport>> {
    opts.signal?.throwIfAborted();
    const decoded = await decodeImage(bytes, { maxBytes: opts.maxBytes, maxPixels: opts.maxPixels });
    if (!decoded.ok) return decoded;
    return this.matchImage(decoded.value, opts);
  }

  /** Refuses a gender filter the gallery cannot serve (nobody in it is marked with that gender). */
  private checkGender(gender: Gender | undefined): Result<Gender | undefined> {
    if (gender && this.gallery.genderCounts()[gender] === 0) {
      return fail('gender_unavailable', `The gallery does not say who is ${gender}: its metadata has no gender. Compare with everyone, or rebuild it with a people.csv.`);
    }
    return ok(gender);
  }

  /**
   * The photo's faces, numbered from the left, and those the request asks to match, described. The count
   * uses matchSearch's thresholds (0.4 of the largest face, 0.1 below the best score) with room for 64
   * faces, so the faces shown are the largest of those counted; a photo with more than `maxFaces` faces is
   * may be searched at a finer pyramid level than matching alone would need.
   */
  private async findFaces(
    image: RgbImage,
    opts: { face?: FaceChoice; maxFaces?: number; onChosen?: (faces: readonly DetectedFace[]) => void },
  ): Promise<Result<{ found: number; chosen: (DescribedFace & { number: number })[] }>> {
    const detected = await this.pipeline.detector.detect(image, matchSearch(MAX_FACES_COUNTED));
    if (detected.length === 0) return fail('no_face', 'No face found. Try a well-lit photo looking at the camera.');
    const chosen = chooseFaces(numberFromLeft(detected), opts.face, opts.maxFaces ?? 6, image);
    if (!chosen.ok) return chosen;
    opts.onChosen?.(chosen.value);
    return ok({ found: detected.length, chosen: await describeDetected(image, chosen.value, this.model) });
  }

  async matchImage(image: RgbImage, opts: MatchOptions = {}): Promise<Result<MatchReport>> {
    const top = opts.top ?? 5;
    const gender = this.checkGender(opts.gender);
    if (!gender.ok) return gender;
    // A request that has timed out stops at the next stage, so its slot is free for the next one.
    opts.signal?.throwIfAborted();
    // The user's tiles for the reply picture are cut on libuv's threads while the faces are embedded.
    let userTiles: Promise<RgbImage>[] = [];
    const onChosen =
      opts.composite === false
        ? undefined
        : (chosen: readonly DetectedFace[]) => {
            const size = tileSizes().face;
            userTiles = chosen.map((face) => cropForDisplay(image, face.box, size));
            for (const tile of userTiles) tile.catch(() => undefined);
          };
    const faces = await this.findFaces(image, { ...opts, ...(onChosen ? { onChosen } : {}) });
    opts.signal?.throwIfAborted();
    if (!faces.ok) return faces;
    const searched = faces.value.chosen.map((face, i) => ({ face, hits: this.search(face.descriptor, top, gender.value), tile: userTiles[i] }));
    const results: FaceResult[] = searched.map(({ face, hits }) => ({
      number: face.number,
      box: face.box,
      source: face.source,
      matches: hits.map(matchOf),
    }));
    opts.signal?.throwIfAborted();
    const composite =
      opts.composite === false
        ? null
        : await this.compose(
            searched.map(({ face, hits, tile }) => ({ image, box: face.box, hits, number: face.number, ...(tile ? { tile } : {}) })),
            { labels: opts.labels, facesFound: faces.value.found },
          );
    return ok({ faces: results, facesFound: faces.value.found, composite, modelId: this.model.id });
  }

  private search(descriptor: Float32Array, top: number, gender: Gender | undefined): GalleryHit[] {
    return this.gallery.search(descriptor, top, { floor: this.model.similarityFloor, ...(gender ? { gender } : {}) });
  }

  /** Streams a video's frames through the same detect, describe, search and reply picture as a photo. */
  matchVideo(input: VideoInput, opts: VideoMatchOptions & PersonalOptions = {}): AsyncIterable<VideoEvent> {
    const gender = this.checkGender(opts.gender);
    if (!gender.ok) {
      const failure = gender;
      return (async function* () {
        yield { kind: 'result', result: failure } satisfies VideoEvent;
      })();
    }
    return matchVideoStream(
      input,
      {
        modelId: this.model.id,
        similarityFloor: this.model.similarityFloor,
        describe: (image: RgbImage, maxFaces: number): Promise<DescribedFace[]> => describeFaces(image, this.pipeline, matchSearch(maxFaces)),
        search: (descriptor: Float32Array, top: number) => this.search(descriptor, top, gender.value),
        compose: (rows) => this.compose(rows, { labels: opts.labels }),
      },
      opts,
    );
  }

  async morph(bytes: Uint8Array, opts: MorphOptions = {}): Promise<Result<MorphReport>> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const decoded = await decodeImage(bytes, { maxBytes: opts.maxBytes, maxPixels: opts.maxPixels });
    if (!decoded.ok) return decoded;
    const image = decoded.value;
    const gender = this.checkGender(opts.gender);
    if (!gender.ok) return gender;
    // Like match: a timed-out request stops at the next stage, so its slot is free for the next one.
    signal?.throwIfAborted();
    const faces = await this.findFaces(image, { face: opts.face, maxFaces: 1 });
    signal?.throwIfAborted();
    if (!faces.ok) return faces;
    const face = faces.value.chosen[0]!;
    const [hit] = this.search(face.descriptor, 1, gender.value);
    if (!hit) return fail('empty_index', 'The gallery has no face to morph into.');

    const user: MorphFace = face.keypoints ? { image, keypoints: face.keypoints } : { image: await cropForDisplay(image, face.box, MORPH_SIZE), keypoints: null };
    const target = await this.galleryMorphFace(hit);
    signal?.throwIfAborted();
    const frames = await morphFrames(user, target, { size: MORPH_SIZE });
    signal?.throwIfAborted();
    const format = opts.format ?? 'gif';
    const animation = format === 'mp4' ? await encodeMp4(frames, signal ? { signal } : {}) : await encodeGif(frames);
    const match = matchOf(hit);
    return ok({
      animation,
      format,
      size: frames.size,
      frames: frames.frames.length,
      durationMs: frames.delays.reduce((a, b) => a + b, 0),
      method: frames.method,
      match,
      face: { number: face.number, box: face.box, source: face.source, matches: [match] },
      facesFound: faces.value.found,
    });
  }

  /**
   * The gallery face with keypoints for the morph: the index keeps a display crop, not the keypoints, so
   * the detector looks at the crop again (it holds one face, large and centred).
   */
  private async galleryMorphFace(hit: GalleryHit): Promise<MorphFace> {
    const image = await this.galleryFace(hit, MORPH_SIZE);
    if (this.pipeline.detector.name === 'haar') return { image, keypoints: null };
    const [found]: DetectedFace[] = await this.pipeline.detector.detect(image, { maxFaces: 1 });
    return { image, keypoints: found?.keypoints ?? null };
  }

  /** One row per face: its picture (a photo, or a video's frame), its box there and its hits. */
  private async compose(
    faces: { image: RgbImage; box: Box; hits: GalleryHit[]; number?: number; tile?: Promise<RgbImage> }[],
    opts: { labels?: Partial<ComposeLabels>; facesFound?: number } = {},
  ): Promise<Buffer> {
    // Every face is cut or decoded at the size of its tile, all at once on libuv's threads.
    const sizes = tileSizes();
    const shown = faces.filter(({ hits }) => hits.length > 0).map((f) => ({ ...f, hits: f.hits.slice(0, 1 + MAX_RUNNERS_UP) }));
    // The best match is drawn as large as the user's face, the runners-up as thumbnails.
    const wanted = shown.flatMap((f) => f.hits.map((hit, j) => ({ hit, size: j === 0 ? sizes.face : sizes.thumb })));
    const [users, matches] = await Promise.all([
      Promise.all(shown.map(({ image, box, tile }) => tile ?? cropForDisplay(image, box, sizes.face))),
      this.galleryFaces(wanted.map((w) => w.hit), wanted.map((w) => w.size)),
    ]);
    let next = 0;
    const rows: ComposeRow[] = shown.map((f, i) => {
      const [best, ...rest] = f.hits.map((hit) => composeMatch(hit, matches[next++]!));
      return { ...(f.number !== undefined ? { number: f.number } : {}), userFace: users[i]!, best: best!, runnersUp: rest };
    });
    return composeReply(rows, { ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.facesFound !== undefined ? { facesFound: opts.facesFound } : {}) });
  }

  /** One gallery face at `size` px (the morph's). */
  private async galleryFace(hit: GalleryHit, size: number): Promise<RgbImage> {
    const [face] = await this.galleryFaces([hit], [size]);
    return face!;
  }

  /** Gallery faces as squares of the given sizes: from the stored thumbnails, or else from the source images. */
  private async galleryFaces(hits: readonly GalleryHit[], sizes: readonly number[]): Promise<RgbImage[]> {
    const thumbs = hits.map(({ faceId }) => this.gallery.thumbnail(faceId));
    const known = thumbs.flatMap((t, i) => (t && sniffImageFormat(t) ? [i] : []));
    const tiles = await thumbnailTiles(
      known.map((i) => thumbs[i]!),
      known.map((i) => sizes[i]!),
    );
    const out: (RgbImage | null)[] = hits.map(() => null);
    known.forEach((i, k) => (out[i] = tiles[k]!));
    return Promise.all(out.map((tile, i) => tile ?? this.sourceFace(hits[i]!, sizes[i]!)));
  }

  /** A gallery face cut from its source image, for a face without a usable thumbnail. */
  private async sourceFace({ faceId, image, box }: GalleryHit, size: number): Promise<RgbImage> {
    const source = await decodeImage(await readFile(image).catch(() => new Uint8Array()));
    if (source.ok) return cropForDisplay(source.value, box, size);
    log.warn({ faceId, image }, 'gallery face unavailable; showing a blank tile');
    return { data: Buffer.alloc(size * size * 3, 48), width: size, height: size };
  }

  async close(): Promise<void> {
    await Promise.all([this.pipeline.embedder.dispose(), this.pipeline.detector.dispose()]);
  }
}

/** A hit as the reply picture draws it, with the photo's year and age when the index knows both. */
function composeMatch(hit: GalleryHit, face: RgbImage): ComposeMatch {
  const { photoYear, age } = matchOf(hit);
  return { name: hit.name, similarity: hit.similarity, face, ...(photoYear !== undefined && age !== undefined ? { photoYear, age } : {}) };
}

/** Opens the index of a data directory and the model that built it. Expected failures come back as values. */
export async function tryOpenEngine(opts: EngineOptions): Promise<Result<Engine>> {
  const opening = await Gallery.prepare(indexDir(opts.dataDir));
  if (!opening.ok) return opening;
  const gallery = opening.value;
  const modelName = opts.model ?? gallery.info.modelId;
  if (modelName !== gallery.info.modelId) {
    return fail(
      'model_mismatch',
      `The index was built with model "${gallery.info.modelId}", not "${modelName}". Match without --model, or rebuild the index with --model ${modelName}.`,
    );
  }
  const detectorName = opts.detector ?? gallery.info.detector;
  if (detectorName !== gallery.info.detector || alignmentOf(gallery.info.detector) !== gallery.info.alignment) {
    return fail(
      'model_mismatch',
      `The index was built with the ${gallery.info.detector} face detector, not ${detectorName}. Match without --detector, or rebuild the index with --detector ${detectorName}.`,
    );
  }
  const precision = opts.precision ?? gallery.info.precision ?? 'fp32';
  if (precision !== (gallery.info.precision ?? 'fp32')) {
    return fail(
      'model_mismatch',
      `The index was built with the ${gallery.info.precision ?? 'fp32'} model, not ${precision}. Match without --precision, or rebuild the index with --precision ${precision}.`,
    );
  }
  // The index's vectors and faces are read (file reads on libuv's threads) while the models load: at
  // IMDB's size each takes a good part of the start-up (bench/startup.ts).
  const galleryLoading = gallery.load();
  galleryLoading.catch(() => undefined);
  setImageThreads(opts.imageThreads ?? availableParallelism());
  startJpegDecoder().catch((err: Error) => log.warn({ err: err.message }, 'WebAssembly JPEG decoder unavailable; thumbnails go to libvips'));
  const load = { modelsDir: opts.modelsDir, device: opts.device ?? 'auto', intraOpThreads: opts.intraOpThreads };
  const detector = await loadDetector(detectorName, load);
  if (!detector.ok) return detector;
  const model = await loadModel(modelName, { ...load, descriptor: gallery.info.descriptor, precision });
  if (!model.ok) {
    await detector.value.dispose();
    return model;
  }
  let loaded: Gallery;
  try {
    loaded = await galleryLoading;
  } catch (err) {
    await Promise.all([detector.value.dispose(), model.value.dispose()]);
    throw err;
  }
  log.info({ model: modelName, detector: detectorName, faces: loaded.size, identities: loaded.identityCount }, 'engine ready');
  const embedder = opts.batching === false ? model.value : batchedEmbedder(model.value, opts.batching);
  return ok(new Engine(loaded, { detector: detector.value, embedder }));
}

/** Like tryOpenEngine, for callers that cannot go on without an engine (the bots). */
export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const engine = await tryOpenEngine(opts);
  if (!engine.ok) throw new EngineUnavailableError(engine.error);
  return engine.value;
}
