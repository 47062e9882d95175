import { stat } from 'node:fs/promises';
import hnswlib from 'hnswlib-node';
import { HnswFile } from '../hnswFile.ts';

// The one place that imports hnswlib-node. Cosine space: hnswlib normalises what it stores and what it
// is asked, and answers distances as 1 - cosine.

export interface HnswParams {
  /** Graph degree. 16 keeps recall@1 >= 0.99 on 128-D face descriptors at a modest memory cost. */
  m: number;
  efConstruction: number;
  /** Search breadth; raised to k when k is larger. */
  efSearch: number;
}

// efSearch 256: at 460,000 vectors (IMDB scale) recall@1 was 0.785 at 64 and 0.990 at 256, still 94x
// faster than exact search (2.5 ms a query; bench/hnsw.ts).
export const defaultHnswParams: HnswParams = { m: 16, efConstruction: 200, efSearch: 256 };

export interface Neighbour {
  label: number;
  /** Cosine similarity, -1..1. */
  cosine: number;
}

export class VectorIndex {
  private constructor(
    /** hnswlib's index: for indexes being built. */
    private readonly index: hnswlib.HierarchicalNSW | null,
    readonly dims: number,
    /** Search breadth: higher finds the true nearest more often, slower. */
    public efSearch: number,
    /** An index read from its file for searching (hnswFile.ts): what the engine opens. */
    private readonly file: HnswFile | null = null,
  ) {}

  static create(dims: number, capacity: number, params: Partial<HnswParams> = {}): VectorIndex {
    const p = { ...defaultHnswParams, ...params };
    const index = new hnswlib.HierarchicalNSW('cosine', dims);
    index.initIndex({ maxElements: Math.max(1, capacity), m: p.m, efConstruction: p.efConstruction, randomSeed: 100 });
    return new VectorIndex(index, dims, p.efSearch);
  }

  /**
   * A saved index, for searching: read whole and searched by hnswFile.ts with hnswlib's algorithm
   * (hnswlib's own loader takes seconds on IMDB's size). Read-only: add() and save() refuse.
   * A file past what one read can return (2 GiB: a 4096-D VGG-Face index of IMDB is about 7.6 GB) is
   * loaded by hnswlib, which streams it.
   */
  static async load(file: string, dims: number, params: Partial<HnswParams> = {}, read?: (file: string) => Promise<Buffer>): Promise<VectorIndex> {
    if ((await stat(file)).size > HnswFile.maxBytes) return VectorIndex.loadWritable(file, dims, params);
    return new VectorIndex(null, dims, params.efSearch ?? defaultHnswParams.efSearch, await HnswFile.read(file, dims, read));
  }

  /** A saved index loaded by hnswlib itself, to add to or to check the file reader against. */
  static async loadWritable(file: string, dims: number, params: Partial<HnswParams> = {}): Promise<VectorIndex> {
    const index = new hnswlib.HierarchicalNSW('cosine', dims);
    await index.readIndex(file);
    return new VectorIndex(index, dims, params.efSearch ?? defaultHnswParams.efSearch);
  }

  get count(): number {
    return this.file ? this.file.count : this.index!.getCurrentCount();
  }

  private writable(): hnswlib.HierarchicalNSW {
    if (!this.index) throw new Error('this index was opened for searching only');
    return this.index;
  }

  add(vector: Float32Array, label: number): void {
    const index = this.writable();
    if (vector.length !== this.dims) throw new RangeError(`vector has ${vector.length} dims, index has ${this.dims}`);
    if (this.count >= index.getMaxElements()) {
      index.resizeIndex(Math.max(16, Math.ceil(index.getMaxElements() * 1.5)));
    }
    index.addPoint(Array.from(vector), label);
  }

  /** The stored vector of a label (L2-normalised: the cosine space stores unit vectors). */
  vector(label: number): Float32Array {
    if (this.file) return this.file.vector(label);
    return Float32Array.from(this.index!.getPoint(label));
  }

  /**
   * The k nearest stored vectors; with `allow`, the k nearest of those it allows. The filter runs inside
   * the graph search (hnswlib skips disallowed labels as results but still walks through them), so a
   * filtered search answers k neighbours whenever k are allowed, unlike a search filtered afterwards.
   */
  search(vector: Float32Array, k: number, allow?: (label: number) => boolean): Neighbour[] {
    const n = Math.min(k, this.count);
    if (n === 0) return [];
    if (this.file) return this.file.search(vector, n, this.efSearch, allow);
    const index = this.index!;
    index.setEf(Math.max(this.efSearch, n));
    const { neighbors, distances } = allow ? index.searchKnn(Array.from(vector), n, allow) : index.searchKnn(Array.from(vector), n);
    return neighbors.map((label, i) => ({ label, cosine: 1 - (distances[i] ?? 1) }));
  }

  async save(file: string): Promise<void> {
    await this.writable().writeIndex(file);
  }
}
