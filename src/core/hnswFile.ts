import { IndexCorruptError } from './errors.ts';
import { readWhole } from './readWhole.ts';

// Searching an hnswlib index file without hnswlib: the file (as hnswlib's saveIndex writes it,
// hnswalg.h) read in one go and searched here with hnswlib's own algorithm (greedy descent through
// the upper layers, then a beam of `ef` over the base layer), in the cosine space hnswlib-node uses
// (unit vectors, distance 1 - dot). hnswlib's loadIndex walks the file element by element, asking the
// stream its position twice each time: a system call apiece, 900,000 of them for IMDB's 460,000
// faces, and seconds of the bot's start-up. Reading the file in one go takes about half as long
// (bench/startup.ts prints both).
// Index builds still use hnswlib (runtime/hnsw.ts), which writes the files this reads.

const HEADER_BYTES = 96;

export interface FileNeighbour {
  label: number;
  cosine: number;
}

/** A growable binary heap of (distance, id), the smallest distance on top, or the largest with `max`. */
class Heap {
  dist: Float64Array;
  id: Int32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly max: boolean,
  ) {
    this.dist = new Float64Array(capacity);
    this.id = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  private before(a: number, b: number): boolean {
    const da = this.dist[a]!;
    const db = this.dist[b]!;
    if (da !== db) return this.max ? da > db : da < db;
    return this.max ? this.id[a]! > this.id[b]! : this.id[a]! < this.id[b]!;
  }

  private swap(a: number, b: number): void {
    const d = this.dist[a]!;
    this.dist[a] = this.dist[b]!;
    this.dist[b] = d;
    const i = this.id[a]!;
    this.id[a] = this.id[b]!;
    this.id[b] = i;
  }

  push(dist: number, id: number): void {
    if (this.size === this.dist.length) {
      const d = new Float64Array(this.size * 2);
      d.set(this.dist);
      this.dist = d;
      const i = new Int32Array(this.size * 2);
      i.set(this.id);
      this.id = i;
    }
    let at = this.size++;
    this.dist[at] = dist;
    this.id[at] = id;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.before(at, parent)) break;
      this.swap(at, parent);
      at = parent;
    }
  }

  pop(): void {
    this.size--;
    if (this.size === 0) return;
    this.dist[0] = this.dist[this.size]!;
    this.id[0] = this.id[this.size]!;
    let at = 0;
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let best = at;
      if (l < this.size && this.before(l, best)) best = l;
      if (r < this.size && this.before(r, best)) best = r;
      if (best === at) return;
      this.swap(at, best);
      at = best;
    }
  }
}

export class HnswFile {
  /** The largest file read() takes (2 GiB): a larger one is left to hnswlib, which streams it. */
  static readonly maxBytes = 2 ** 31 - 1;
  private visited: Uint32Array;
  /** Label to element, built the first time a label is not its element's position. */
  private byLabel: Map<number, number> | null = null;
  private generation = 0;
  private readonly candidates = new Heap(1024, false);
  private readonly top = new Heap(512, true);

  private constructor(
    private readonly words: Uint32Array,
    private readonly floats: Float32Array,
    readonly count: number,
    readonly dims: number,
    /** Per element, in 4-byte words: where its base-layer record starts. */
    private readonly perElementWords: number,
    private readonly dataWords: number,
    private readonly labelWords: number,
    private readonly maxM0: number,
    private readonly maxM: number,
    private readonly maxLevel: number,
    private readonly entry: number,
    /** Per element: word offset of its upper-layer link lists, or -1. */
    private readonly upper: Int32Array,
    private readonly levels: Uint8Array,
  ) {
    this.visited = new Uint32Array(count);
  }

  /** Reads and checks `file`; `read` gives its bytes (by default read whole, readWhole.ts). */
  static async read(file: string, dims: number, read: (file: string) => Promise<Buffer> = readWhole): Promise<HnswFile> {
    const raw = await read(file);
    // Typed views need 4-byte alignment; a large file's buffer starts at 0, a small one may not.
    const buf = raw.byteOffset % 4 === 0 ? raw : Buffer.from(raw);
    const bad = (why: string) => new IndexCorruptError(`${file} is not an hnswlib index (${why}). Rebuild the index.`);
    if (buf.length < HEADER_BYTES) throw bad('too short');
    const size = (at: number) => Number(buf.readBigUInt64LE(at));
    const count = size(16);
    const perElement = size(24);
    const labelOffset = size(32);
    const dataOffset = size(40);
    const maxLevel = buf.readInt32LE(48);
    const entry = buf.readUInt32LE(52);
    const maxM = size(56);
    const maxM0 = size(64);
    const linksLevel0 = maxM0 * 4 + 4;
    if (size(0) !== 0 || dataOffset !== linksLevel0 || labelOffset !== dataOffset + dims * 4 || perElement !== labelOffset + 8 || perElement % 4 !== 0) {
      throw bad(`a ${dims}-D layout was expected`);
    }
    const level0End = HEADER_BYTES + count * perElement;
    if (level0End > buf.length || (count > 0 && entry >= count)) throw bad('truncated');
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    const floats = new Float32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    const perElementWords = perElement / 4;
    const linksPerElement = maxM * 4 + 4;
    const upper = new Int32Array(count).fill(-1);
    const levels = new Uint8Array(count);
    let at = level0End;
    for (let i = 0; i < count; i++) {
      if (at + 4 > buf.length) throw bad('truncated link lists');
      const bytes = buf.readUInt32LE(at);
      at += 4;
      if (bytes > 0) {
        if (bytes % linksPerElement !== 0 || at + bytes > buf.length) throw bad('a broken link list');
        upper[i] = at >> 2;
        levels[i] = bytes / linksPerElement;
        at += bytes;
      }
    }
    if (at !== buf.length) throw bad('trailing bytes');
    // Labels are not read here: that touches a word in every element, and the first touch of each
    // page of a freshly read buffer cost about 10 µs on the bench machine (0.6-1 s for IMDB's size).
    const labelWords = labelOffset / 4;
    return new HnswFile(words, floats, count, dims, perElementWords, dataOffset / 4, labelWords, maxM0, maxM, maxLevel, entry, upper, levels);
  }

  private base(i: number): number {
    return (HEADER_BYTES >> 2) + i * this.perElementWords;
  }

  private label(i: number): number {
    const at = this.base(i) + this.labelWords;
    return this.words[at]! + this.words[at + 1]! * 2 ** 32;
  }

  private distance(q: Float32Array, i: number): number {
    const f = this.floats;
    let at = this.base(i) + this.dataWords;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n = this.dims;
    let d = 0;
    for (; d + 3 < n; d += 4, at += 4) {
      s0 += q[d]! * f[at]!;
      s1 += q[d + 1]! * f[at + 1]!;
      s2 += q[d + 2]! * f[at + 2]!;
      s3 += q[d + 3]! * f[at + 3]!;
    }
    for (; d < n; d++, at++) s0 += q[d]! * f[at]!;
    return 1 - (s0 + s1 + s2 + s3);
  }

  /** The stored (unit) vector of a label. */
  vector(label: number): Float32Array {
    // Labels are face ids, 0..n-1 in the order the build added them, so element i is label i.
    let i: number | undefined = label;
    if (!(Number.isInteger(label) && label >= 0 && label < this.count && this.label(label) === label)) {
      if (!this.byLabel) {
        this.byLabel = new Map();
        for (let e = 0; e < this.count; e++) this.byLabel.set(this.label(e), e);
      }
      i = this.byLabel.get(label);
    }
    if (i === undefined) throw new RangeError(`no vector labelled ${label}`);
    const at = this.base(i) + this.dataWords;
    return this.floats.slice(at, at + this.dims);
  }

  /**
   * The k nearest by cosine, searched with a beam of max(ef, k), nearest first; with `allow`, the k
   * nearest of the labels it allows, filtered inside the search as hnswlib does (disallowed nodes are
   * walked through but never kept, and the beam stops only once it holds `ef` allowed ones).
   */
  search(query: Float32Array, k: number, ef: number, allow?: (label: number) => boolean): FileNeighbour[] {
    if (this.count === 0 || k <= 0) return [];
    if (query.length !== this.dims) throw new RangeError(`vector has ${query.length} dims, index has ${this.dims}`);
    let norm = 0;
    for (let d = 0; d < query.length; d++) norm += query[d]! * query[d]!;
    const q = new Float32Array(query.length);
    const scale = 1 / (Math.sqrt(norm) + 1e-30);
    for (let d = 0; d < query.length; d++) q[d] = query[d]! * scale;

    // Greedy descent through the upper layers.
    let current = this.entry;
    let currentDist = this.distance(q, current);
    for (let level = this.maxLevel; level > 0; level--) {
      for (let changed = true; changed; ) {
        changed = false;
        if (this.levels[current]! < level) continue;
        const list = this.upper[current]! + (level - 1) * (this.maxM + 1);
        const n = this.words[list]! & 0xffff;
        for (let j = 1; j <= n; j++) {
          const candidate = this.words[list + j]!;
          const d = this.distance(q, candidate);
          if (d < currentDist) {
            currentDist = d;
            current = candidate;
            changed = true;
          }
        }
      }
    }

    // The base layer, a beam of `ef`.
    const width = Math.max(ef, k);
    if (++this.generation === 0xffffffff) {
      this.visited.fill(0);
      this.generation = 1;
    }
    const mark = this.generation;
    const { candidates, top } = this;
    candidates.clear();
    top.clear();
    this.visited[current] = mark;
    const allowed = (id: number): boolean => !allow || allow(this.label(id));
    let lowerBound = Infinity;
    if (allowed(current)) {
      top.push(currentDist, current);
      lowerBound = currentDist;
    }
    candidates.push(currentDist, current);
    while (candidates.size > 0) {
      const dist = candidates.dist[0]!;
      const node = candidates.id[0]!;
      // hnswlib's stop: past the beam's worst, and (with a filter) once the beam is full.
      if (dist > lowerBound && (!allow || top.size === width)) break;
      candidates.pop();
      const list = this.base(node);
      const n = this.words[list]! & 0xffff;
      for (let j = 1; j <= n; j++) {
        const next = this.words[list + j]!;
        if (this.visited[next] === mark) continue;
        this.visited[next] = mark;
        const d = this.distance(q, next);
        if (top.size < width || lowerBound > d) {
          candidates.push(d, next);
          if (allowed(next)) top.push(d, next);
          if (top.size > width) top.pop();
          if (top.size > 0) lowerBound = top.dist[0]!;
        }
      }
    }
    while (top.size > k) top.pop();
    const out: FileNeighbour[] = new Array(top.size);
    for (let at = top.size - 1; at >= 0; at--) {
      out[at] = { label: this.label(top.id[0]!), cosine: 1 - top.dist[0]! };
      top.pop();
    }
    return out;
  }
}
