import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { DetectorName } from './detect/detector.ts';
import { IndexCorruptError } from './errors.ts';
import type { Alignment } from './faces.ts';
import type { Precision } from './models/embedder.ts';
import { FaceRows, type FaceRow as GalleryRow } from './galleryRows.ts';
import { fail, ok, type Result } from './result.ts';
import { HnswFile } from './hnswFile.ts';
import { readWhole } from './readWhole.ts';
import { VectorIndex } from './runtime/hnsw.ts';
import { bestPerIdentity, toPercent } from './similarity.ts';
import type { Box } from './types.ts';

// The celebrity gallery on disk: an HNSW cosine index of face descriptors, the metadata of every face
// (who, which image, where), and a packed file of small face thumbnails so a reply can show the
// matched face without reopening the original photo.
//
//   <dir>/gallery.json   the model, detector and precision that built it, and the identities
//   <dir>/faces.bin      every face's identity, image, box, source and thumbnail, as columns (galleryRows.ts)
//   <dir>/faces.hnsw     hnswlib index; labels are face ids (positions in faces.bin)
//   <dir>/thumbs.bin     JPEG thumbnails back to back; each face records offset and length
// Indexes of format 1 kept the faces in gallery.json; they are still read.

export type FaceSource = 'blazeface' | 'cascade' | 'whole_image' | 'metadata';

/** A gallery person's gender as the gallery's metadata gives it (IMDB-WIKI, people.csv); never inferred from a face. */
export type Gender = 'female' | 'male';
export const GENDERS: readonly Gender[] = ['female', 'male'];

export interface GalleryFace {
  name: string;
  image: string;
  box: Box;
  source: FaceSource;
  /** Absent where the metadata does not say: such faces are shown only to people who compare with everyone. */
  gender?: Gender;
  /** Year the photo was taken. */
  photoYear?: number;
  /** The person's age in that photo, in whole years. */
  age?: number;
}

export interface GalleryInfo {
  modelId: string;
  /** Descriptor variant, e.g. 'resnet128' or 'fc7-4096'; indexes of different descriptors never mix. */
  descriptor: string;
  dims: number;
  /** The face detector the index was built with; queries must find faces the same way. */
  detector: DetectorName;
  /** How faces were cut for the model: aligned by keypoints, or their box framed. */
  alignment: Alignment;
  /** The model's arithmetic (int8 descriptors differ a little from fp32 ones); absent in older indexes: fp32. */
  precision?: Precision;
}

export interface GalleryHit extends GalleryFace {
  faceId: number;
  /** 0..100 */
  similarity: number;
  cosine: number;
}

const FORMAT_VERSION = 2;
/** Formats this program reads. */
const READ_VERSIONS: readonly number[] = [1, FORMAT_VERSION];
const META = 'gallery.json';
const FACES = 'faces.bin';
const VECTORS = 'faces.hnsw';
const THUMBS = 'thumbs.bin';

type FaceRow = GalleryRow<FaceSource>;

const GENDER_CODE: Record<Gender, 0 | 1> = { female: 0, male: 1 };

interface MetaFile extends Omit<GalleryInfo, 'detector' | 'alignment'>, Partial<Pick<GalleryInfo, 'detector' | 'alignment'>> {
  version: number;
  createdAt: string;
  identities: string[];
  /** Format 1: the faces' rows. */
  faces?: FaceRow[];
  /** Format 2: how many faces faces.bin holds, and the source names its source column indexes. */
  faceCount?: number;
  faceSources?: FaceSource[];
}

/** An index whose gallery.json has been read and checked; `load()` reads the rest (IndexCorruptError when damaged). */
export interface OpeningGallery {
  info: GalleryInfo;
  load(): Promise<Gallery>;
}

/** Index files whose reading Gallery.prefetch started, by path; taken once. */
const prefetched = new Map<string, Promise<Buffer>>();

/** A large index file's bytes: the read Gallery.prefetch started, or a new one. */
function indexFileBytes(file: string): Promise<Buffer> {
  const started = prefetched.get(file);
  prefetched.delete(file);
  return started ?? readWhole(file);
}

export class Gallery {
  private readonly identityIds = new Map<string, number>();
  private thumbsFd: number | null = null;
  private thumbsEnd = 0;
  /** Faces of each gender, kept as faces are added: asked on every filtered request. */
  private readonly genders = { female: 0, male: 0 };

  private constructor(
    readonly dir: string,
    readonly info: GalleryInfo,
    private readonly vectors: VectorIndex,
    private readonly identities: string[],
    private readonly rows: FaceRows<FaceSource>,
    private readonly createdAt: string,
  ) {
    identities.forEach((name, i) => this.identityIds.set(name, i));
    // Only a gallery being built appends thumbnails.
    if (rows.writable) this.thumbsEnd = rows.thumbsEnd();
    for (let id = 0; id < rows.length; id++) this.countGender(rows.gender(id));
  }

  private countGender(code: 0 | 1 | null): void {
    if (code !== null) this.genders[GENDERS[code]!]++;
  }

  /** A new, empty gallery written to `dir` (created; an existing gallery there is replaced on save). */
  static create(dir: string, info: GalleryInfo, capacity = 1024): Gallery {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, THUMBS), '');
    return new Gallery(dir, info, VectorIndex.create(info.dims, capacity), [], FaceRows.fromArray<FaceSource>([]), new Date().toISOString());
  }

  /**
   * Starts reading an index's large files (faces.hnsw, faces.bin) now; the next open of the index takes
   * the bytes. A service calls it first, before it imports its chat client and loads its models, so that
   * the reads overlap with them: at IMDB's size they are the largest part of the start-up
   * (bench/startup.ts). Only for an index that will be opened: the bytes are held until then.
   */
  static prefetch(dir: string): void {
    for (const name of [VECTORS, FACES]) {
      const file = path.join(dir, name);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue; // opening the index reports it
      }
      // A faces.hnsw past what one buffer holds is streamed by hnswlib when the index opens.
      if ((name === VECTORS && size > HnswFile.maxBytes) || prefetched.has(file)) continue;
      const reading = readWhole(file);
      reading.catch(() => undefined);
      prefetched.set(file, reading);
    }
  }

  static async open(dir: string): Promise<Result<Gallery>> {
    const opening = await Gallery.prepare(dir);
    return opening.ok ? ok(await opening.value.load()) : opening;
  }

  /**
   * Reads gallery.json only: what built the index, to check and to load models by while `load()` reads
   * the faces and vectors (a second or more at IMDB's size).
   */
  static async prepare(dir: string): Promise<Result<OpeningGallery>> {
    const metaPath = path.join(dir, META);
    if (!existsSync(metaPath)) {
      return fail('no_index', `No index at ${dir}. Build one first: lookalike index build <folder>`);
    }
    let meta: MetaFile;
    try {
      meta = JSON.parse(readFileSync(metaPath, 'utf8')) as MetaFile;
    } catch (err) {
      throw new IndexCorruptError(`${metaPath} is not valid JSON`, { cause: err });
    }
    if (!READ_VERSIONS.includes(meta.version)) {
      throw new IndexCorruptError(`${metaPath} has format version ${meta.version}; this program reads ${READ_VERSIONS.join(' and ')}. Rebuild the index.`);
    }
    const faceCount = meta.version === 1 ? (meta.faces?.length ?? 0) : (meta.faceCount ?? 0);
    if (faceCount === 0) {
      return fail('empty_index', `The index at ${dir} holds no faces. Rebuild it from a folder with photos of people.`);
    }
    // Indexes from before the CNN detector carry no detector: they were built with the Haar cascade.
    const info: GalleryInfo = {
      modelId: meta.modelId,
      descriptor: meta.descriptor,
      dims: meta.dims,
      detector: meta.detector ?? 'haar',
      alignment: meta.alignment ?? 'box',
      precision: meta.precision ?? 'fp32',
    };
    return ok({ info, load: () => Gallery.load(dir, meta, faceCount, info) });
  }

  private static async load(dir: string, meta: MetaFile, faceCount: number, info: GalleryInfo): Promise<Gallery> {
    // The vectors and the face table are read at the same time (the vectors on libuv's threads).
    const vectorsLoading = VectorIndex.load(path.join(dir, VECTORS), meta.dims, {}, indexFileBytes);
    vectorsLoading.catch(() => undefined);
    let rows: FaceRows<FaceSource>;
    if (meta.version === 1) {
      rows = FaceRows.fromArray(meta.faces!);
    } else {
      const facesPath = path.join(dir, FACES);
      let bytes: Buffer;
      try {
        bytes = await indexFileBytes(facesPath);
      } catch (err) {
        throw new IndexCorruptError(`${facesPath} cannot be read. Rebuild the index.`, { cause: err });
      }
      rows = FaceRows.decode(bytes, meta.faceSources ?? [], facesPath);
    }
    const vectors = await vectorsLoading;
    if (vectors.count !== rows.length || rows.length !== faceCount) {
      throw new IndexCorruptError(`${dir}: ${vectors.count} vectors but ${rows.length} faces. Rebuild the index.`);
    }
    return new Gallery(dir, info, vectors, meta.identities, rows, meta.createdAt);
  }

  get size(): number {
    return this.rows.length;
  }

  get identityCount(): number {
    return this.identities.length;
  }

  /** Adds one face; the thumbnail (JPEG) is appended to thumbs.bin at once. Returns the face id. */
  add(face: GalleryFace, descriptor: Float32Array, thumbnail?: Uint8Array): number {
    let identity = this.identityIds.get(face.name);
    if (identity === undefined) {
      identity = this.identities.push(face.name) - 1;
      this.identityIds.set(face.name, identity);
    }
    let offset = 0;
    let length = 0;
    if (thumbnail && thumbnail.length > 0) {
      this.thumbsFd ??= openSync(path.join(this.dir, THUMBS), 'a');
      writeSync(this.thumbsFd, thumbnail);
      offset = this.thumbsEnd;
      length = thumbnail.length;
      this.thumbsEnd += length;
    }
    const { x, y, width, height } = face.box;
    const gender = face.gender ? GENDER_CODE[face.gender] : null;
    const row: FaceRow = [identity, face.image, x, y, width, height, face.source, offset, length, gender, face.photoYear ?? null, face.age ?? null];
    const id = this.rows.push(row) - 1;
    this.countGender(row[9] ?? null);
    this.vectors.add(descriptor, id);
    return id;
  }

  face(id: number): GalleryFace {
    const row = this.rows.at(id);
    if (!row) throw new RangeError(`no face ${id}`);
    const face: GalleryFace = { name: this.identities[row[0]]!, image: row[1], box: { x: row[2], y: row[3], width: row[4], height: row[5] }, source: row[6] };
    if (row[9] === 0 || row[9] === 1) face.gender = GENDERS[row[9]];
    if (typeof row[10] === 'number') face.photoYear = row[10];
    if (typeof row[11] === 'number') face.age = row[11];
    return face;
  }

  /** Faces of each gender in the index (the rest are of unknown gender). */
  genderCounts(): Record<Gender, number> {
    return { ...this.genders };
  }

  /** The descriptor stored for a face (unit length). */
  descriptor(id: number): Float32Array {
    if (!this.rows.at(id)) throw new RangeError(`no face ${id}`);
    return this.vectors.vector(id);
  }

  /** Face ids of one identity (exact name), in insertion order. */
  facesOf(name: string): number[] {
    const identity = this.identityIds.get(name);
    if (identity === undefined) return [];
    const ids: number[] = [];
    for (let id = 0; id < this.rows.length; id++) if (this.rows.identity(id) === identity) ids.push(id);
    return ids;
  }

  identityNames(): readonly string[] {
    return this.identities;
  }

  /**
   * The best face of each of the `top` closest identities, best first; `floor` is the model's similarity
   * floor. With `gender`, only faces of that gender: the filter runs inside the HNSW search, so the
   * answer still has `top` identities when the index holds that many (bench/hnswGender.ts measured this
   * against one index per gender and against filtering a larger answer).
   */
  search(descriptor: Float32Array, top: number, opts: { exclude?: (hit: GalleryHit) => boolean; floor?: number; gender?: Gender } = {}): GalleryHit[] {
    // Ask for more neighbours than identities wanted: several of the nearest faces may be one person.
    const k = Math.min(this.size, Math.max(50, top * 20));
    const code = opts.gender ? GENDER_CODE[opts.gender] : undefined;
    const allow = code === undefined ? undefined : (label: number) => this.rows.gender(label) === code;
    const hits = this.vectors
      .search(descriptor, k, allow)
      .map(({ label, cosine }) => ({ ...this.face(label), faceId: label, cosine, similarity: toPercent(cosine, opts.floor) }))
      .filter((hit) => !opts.exclude?.(hit));
    return bestPerIdentity(hits, top);
  }

  /** The face's thumbnail JPEG, or null when the gallery has none for it. */
  thumbnail(id: number): Buffer | null {
    const at = this.rows.thumbnail(id);
    if (!at || at[1] === 0) return null;
    const [offset, length] = at;
    const buf = Buffer.alloc(length);
    const fd = openSync(path.join(this.dir, THUMBS), 'r');
    try {
      readSync(fd, buf, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    return buf;
  }

  /** Writes the metadata and the vectors. Writes go to temporary names first so a crash never leaves a half-written pair. */
  async save(): Promise<void> {
    if (this.thumbsFd !== null) {
      closeSync(this.thumbsFd);
      this.thumbsFd = null;
    }
    const faces = this.rows.encode();
    const meta: MetaFile = {
      version: FORMAT_VERSION,
      ...this.info,
      createdAt: this.createdAt,
      identities: this.identities,
      faceCount: this.rows.length,
      faceSources: faces.sources as FaceSource[],
    };
    const tmpVectors = path.join(this.dir, `${VECTORS}.tmp`);
    const tmpFaces = path.join(this.dir, `${FACES}.tmp`);
    const tmpMeta = path.join(this.dir, `${META}.tmp`);
    await this.vectors.save(tmpVectors);
    writeFileSync(tmpFaces, faces.bytes);
    writeFileSync(tmpMeta, JSON.stringify(meta));
    renameSync(tmpVectors, path.join(this.dir, VECTORS));
    renameSync(tmpFaces, path.join(this.dir, FACES));
    // gallery.json last: it names how many faces the other files hold.
    renameSync(tmpMeta, path.join(this.dir, META));
  }
}
