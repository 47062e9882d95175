import { IndexCorruptError } from './errors.ts';

// The gallery's per-face metadata (who, which image, where, its thumbnail), in faces.bin: one
// column per field, read with one file read and used in place. The same rows as JSON arrays in
// gallery.json (index format 1) took longer to parse and more memory at IMDB's 460,000 faces than
// these take to read (bench/startup.ts prints both).
//
//   'LKFACES1' (8 bytes) | count u32 | reserved u32
//   thumbOffset f64[n] | identity u32[n] | box i32[4n] (x, y, w, h) | thumbLength u32[n]
//   imageEnd u32[n] (end of each image path in the text) | photoYear u16[n] (0: unknown) |
//   source u8[n] (index into the sources list in gallery.json) | gender u8[n] (0 female, 1 male,
//   255 unknown) | age u8[n] (255: unknown) | image paths, UTF-8, back to back

/**
 * [identity, image, x, y, w, h, source, thumbOffset, thumbLength, gender, photoYear, age]: gender 0
 * female, 1 male, null unknown; photoYear and age null when unknown. Rows of format 1 written before
 * the last three existed have 9 elements and read as unknown.
 */
export type FaceRow<Source extends string = string> = [
  number,
  string,
  number,
  number,
  number,
  number,
  Source,
  number,
  number,
  (0 | 1 | null)?,
  (number | null)?,
  (number | null)?,
];

const UNKNOWN_U8 = 255;
/** Bytes per face of the fixed-width columns. */
const FIXED_BYTES = 8 + 4 + 16 + 4 + 4 + 2 + 1 + 1 + 1;

const MAGIC = 'LKFACES1';
const HEADER = 16;

interface Columns {
  count: number;
  thumbOffset: Float64Array;
  identity: Uint32Array;
  box: Int32Array;
  thumbLength: Uint32Array;
  imageEnd: Uint32Array;
  photoYear: Uint16Array;
  source: Uint8Array;
  gender: Uint8Array;
  age: Uint8Array;
  images: Uint8Array;
  sources: readonly string[];
}

const decoder = new TextDecoder();

export class FaceRows<Source extends string = string> {
  private constructor(
    /** Rows being built (or read from an older index's JSON). */
    private readonly list: FaceRow<Source>[] | null,
    /** Rows read from faces.bin. */
    private readonly columns: Columns | null,
  ) {}

  static fromArray<S extends string>(rows: FaceRow<S>[]): FaceRows<S> {
    return new FaceRows(rows, null);
  }

  /** Reads faces.bin; `sources` is the list its source column indexes. */
  static decode<S extends string>(buf: Buffer, sources: readonly S[], where: string): FaceRows<S> {
    const bad = (why: string) => new IndexCorruptError(`${where} is damaged (${why}). Rebuild the index.`);
    if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== MAGIC) throw bad('not a face table');
    const count = buf.readUInt32LE(8);
    const fixed = count * FIXED_BYTES;
    if (HEADER + fixed > buf.length) throw bad('truncated');
    // Typed views need aligned offsets: copy a buffer that does not start on an 8-byte boundary.
    const b = buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf);
    let at = b.byteOffset + HEADER;
    const take = <T>(make: (buffer: ArrayBuffer, offset: number, length: number) => T, bytes: number, length: number): T => {
      const view = make(b.buffer as ArrayBuffer, at, length);
      at += bytes * length;
      return view;
    };
    const thumbOffset = take((x, o, n) => new Float64Array(x, o, n), 8, count);
    const identity = take((x, o, n) => new Uint32Array(x, o, n), 4, count);
    const box = take((x, o, n) => new Int32Array(x, o, n), 4, 4 * count);
    const thumbLength = take((x, o, n) => new Uint32Array(x, o, n), 4, count);
    const imageEnd = take((x, o, n) => new Uint32Array(x, o, n), 4, count);
    const photoYear = take((x, o, n) => new Uint16Array(x, o, n), 2, count);
    const source = take((x, o, n) => new Uint8Array(x, o, n), 1, count);
    const gender = take((x, o, n) => new Uint8Array(x, o, n), 1, count);
    const age = take((x, o, n) => new Uint8Array(x, o, n), 1, count);
    const images = new Uint8Array(b.buffer, at, b.byteOffset + b.length - at);
    if (count > 0 && imageEnd[count - 1]! !== images.length) throw bad('image paths do not add up');
    for (let i = 0; i < count; i++) if (source[i]! >= sources.length) throw bad('an unknown face source');
    return new FaceRows<S>(null, { count, thumbOffset, identity, box, thumbLength, imageEnd, photoYear, source, gender, age, images, sources });
  }

  /** faces.bin's bytes, and the sources list its source column indexes. */
  encode(): { bytes: Buffer; sources: string[] } {
    const n = this.length;
    const sources: string[] = [];
    const sourceIndex = new Map<string, number>();
    const paths: Buffer[] = [];
    let pathBytes = 0;
    const rows = Array.from({ length: n }, (_, i) => this.at(i)!);
    for (const row of rows) {
      const p = Buffer.from(row[1], 'utf8');
      paths.push(p);
      pathBytes += p.length;
      if (!sourceIndex.has(row[6])) {
        sourceIndex.set(row[6], sources.length);
        sources.push(row[6]);
      }
    }
    const fixed = n * FIXED_BYTES;
    const buf = Buffer.alloc(HEADER + fixed + pathBytes);
    buf.write(MAGIC, 0, 'latin1');
    buf.writeUInt32LE(n, 8);
    let at = HEADER;
    rows.forEach((r, i) => buf.writeDoubleLE(r[7], at + 8 * i));
    at += 8 * n;
    rows.forEach((r, i) => buf.writeUInt32LE(r[0], at + 4 * i));
    at += 4 * n;
    rows.forEach((r, i) => {
      for (let k = 0; k < 4; k++) buf.writeInt32LE(r[2 + k] as number, at + 16 * i + 4 * k);
    });
    at += 16 * n;
    rows.forEach((r, i) => buf.writeUInt32LE(r[8], at + 4 * i));
    at += 4 * n;
    let end = 0;
    paths.forEach((p, i) => {
      end += p.length;
      buf.writeUInt32LE(end, at + 4 * i);
    });
    at += 4 * n;
    rows.forEach((r, i) => buf.writeUInt16LE(yearCode(r[10]), at + 2 * i));
    at += 2 * n;
    rows.forEach((r, i) => buf.writeUInt8(sourceIndex.get(r[6])!, at + i));
    at += n;
    rows.forEach((r, i) => buf.writeUInt8(r[9] === 0 || r[9] === 1 ? r[9] : UNKNOWN_U8, at + i));
    at += n;
    rows.forEach((r, i) => buf.writeUInt8(ageCode(r[11]), at + i));
    at += n;
    for (const p of paths) {
      p.copy(buf, at);
      at += p.length;
    }
    return { bytes: buf, sources };
  }

  /** Whether rows can be added (a gallery being built). */
  get writable(): boolean {
    return this.list !== null;
  }

  get length(): number {
    return this.list ? this.list.length : this.columns!.count;
  }

  /** The row of a face id, or undefined. */
  at(id: number): FaceRow<Source> | undefined {
    if (this.list) return this.list[id];
    const c = this.columns!;
    if (!(id >= 0 && id < c.count && Number.isInteger(id))) return undefined;
    const start = id === 0 ? 0 : c.imageEnd[id - 1]!;
    const image = decoder.decode(c.images.subarray(start, c.imageEnd[id]!));
    const b = 4 * id;
    const year = c.photoYear[id]!;
    const age = c.age[id]!;
    return [
      c.identity[id]!,
      image,
      c.box[b]!,
      c.box[b + 1]!,
      c.box[b + 2]!,
      c.box[b + 3]!,
      c.sources[c.source[id]!] as Source,
      c.thumbOffset[id]!,
      c.thumbLength[id]!,
      this.gender(id),
      year === 0 ? null : year,
      age === UNKNOWN_U8 ? null : age,
    ];
  }

  /** The gender code of a face id (0 female, 1 male, null unknown), without building its row: asked per node by a filtered search. */
  gender(id: number): 0 | 1 | null {
    if (this.list) {
      const g = this.list[id]?.[9];
      return g === 0 || g === 1 ? g : null;
    }
    const g = this.columns!.gender[id];
    return g === 0 || g === 1 ? g : null;
  }

  /** The identity of a face id (no row built). */
  identity(id: number): number {
    return this.list ? this.list[id]![0] : this.columns!.identity[id]!;
  }

  /** Where a face's thumbnail lies in thumbs.bin: [offset, length] (length 0: none). */
  thumbnail(id: number): [number, number] | undefined {
    if (this.list) {
      const row = this.list[id];
      return row ? [row[7], row[8]] : undefined;
    }
    const c = this.columns!;
    return id >= 0 && id < c.count ? [c.thumbOffset[id]!, c.thumbLength[id]!] : undefined;
  }

  push(row: FaceRow<Source>): number {
    if (!this.list) throw new Error('the face table of an opened index is read-only');
    return this.list.push(row);
  }

  /** The end of the last thumbnail: where the next one goes. */
  thumbsEnd(): number {
    let end = 0;
    for (let i = 0; i < this.length; i++) {
      const [offset, length] = this.thumbnail(i)!;
      end = Math.max(end, offset + length);
    }
    return end;
  }
}

/** A photo year as stored: 0 for unknown or out of the column's range. */
function yearCode(year: number | null | undefined): number {
  return typeof year === 'number' && Number.isInteger(year) && year > 0 && year < 65536 ? year : 0;
}

/** An age as stored: 255 for unknown or out of the column's range. */
function ageCode(age: number | null | undefined): number {
  return typeof age === 'number' && Number.isInteger(age) && age >= 0 && age < UNKNOWN_U8 ? age : UNKNOWN_U8;
}
