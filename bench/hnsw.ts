import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VectorIndex } from '../src/core/runtime/hnsw.ts';
import { median, rng } from './stats.ts';

// HNSW against exact (brute-force) cosine search over random unit vectors: the gallery's search at
// IMDB-WIKI scale. Each query is a stored vector moved to cosine ~0.9 of it, as a new photo of a
// person lands near their gallery face. (Queries drawn at random, near nothing, are meaningless for
// nearest-neighbour search in 128 dimensions: every vector is then about equally far.)

export interface HnswBench {
  vectors: number;
  dims: number;
  buildSeconds: number;
  /**
   * The index's own size: what hnswlib writes for it (vectors, graph links, labels), which is what it
   * holds in memory for them. (An RSS difference around the build went negative under GC: -44 MB.)
   */
  indexMb: number;
  exactMsPerQuery: number;
  rows: { efSearch: number; recallAt1: number; msPerQuery: number; speedUp: number }[];
}

export function randomUnitVectors(n: number, dims: number, seed: number): Float32Array {
  const next = rng(seed);
  const data = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      // Sum of uniforms: close enough to Gaussian for direction sampling.
      const v = next() + next() + next() - 1.5;
      data[i * dims + d] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < dims; d++) data[i * dims + d]! /= norm;
  }
  return data;
}

/** The index of the stored unit vector closest to q by exhaustive search, among those `allow` allows (all by default). */
export function exactTop1(data: Float32Array, dims: number, q: Float32Array, allow?: (i: number) => boolean): number {
  let best = -Infinity;
  let bestIdx = -1;
  const n = data.length / dims;
  for (let i = 0; i < n; i++) {
    if (allow && !allow(i)) continue;
    let dot = 0;
    const off = i * dims;
    for (let d = 0; d < dims; d++) dot += data[off + d]! * q[d]!;
    if (dot > best) {
      best = dot;
      bestIdx = i;
    }
  }
  return bestIdx;
}

export async function benchHnsw(n = 460_000, dims = 128, queries = 200, log = console.log): Promise<HnswBench> {
  const data = randomUnitVectors(n, dims, 1);
  const noise = randomUnitVectors(queries, dims, 2);
  const pick = rng(3);
  const qs = new Float32Array(queries * dims);
  for (let i = 0; i < queries; i++) {
    const source = Math.floor(pick() * n);
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const v = data[source * dims + d]! + 0.48 * noise[i * dims + d]!;
      qs[i * dims + d] = v;
      norm += v * v;
    }
    for (let d = 0; d < dims; d++) qs[i * dims + d]! /= Math.sqrt(norm);
  }
  const query = (i: number) => qs.subarray(i * dims, (i + 1) * dims);

  const t0 = performance.now();
  const index = VectorIndex.create(dims, n);
  for (let i = 0; i < n; i++) {
    index.add(data.subarray(i * dims, (i + 1) * dims), i);
    if (i > 0 && i % 100_000 === 0) log(`  hnsw: ${i} vectors added, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const buildSeconds = (performance.now() - t0) / 1000;
  const dir = mkdtempSync(path.join(tmpdir(), 'lookalike-hnsw-bench-'));
  let indexMb: number;
  try {
    await index.save(path.join(dir, 'index.hnsw'));
    indexMb = statSync(path.join(dir, 'index.hnsw')).size / 2 ** 20;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const truth: number[] = [];
  const exactTimes: number[] = [];
  for (let i = 0; i < queries; i++) {
    const t = performance.now();
    truth.push(exactTop1(data, dims, query(i)));
    exactTimes.push(performance.now() - t);
  }
  const exactMsPerQuery = median(exactTimes);

  const rows: HnswBench['rows'] = [];
  for (const efSearch of [32, 64, 128, 256, 512]) {
    index.efSearch = efSearch;
    let hits = 0;
    const times: number[] = [];
    for (let i = 0; i < queries; i++) {
      const t = performance.now();
      const [top] = index.search(query(i), 1);
      times.push(performance.now() - t);
      if (top?.label === truth[i]) hits++;
    }
    const msPerQuery = median(times);
    rows.push({ efSearch, recallAt1: hits / queries, msPerQuery, speedUp: exactMsPerQuery / msPerQuery });
  }
  return { vectors: n, dims, buildSeconds, indexMb, exactMsPerQuery, rows };
}
