// Matching math, kept apart from the index and the models so it can be read and tested on its own.

/** Cosine similarity of two L2-normalised vectors is their dot product. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

export function l2Normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

/**
 * The similarity people see, 0..100 %: the cosine stretched linearly from the model's floor (0 %) to
 * 1 (100 %), so that unrelated faces, which all score high cosines, spread out. One decimal is all
 * the precision a chat reply needs.
 */
export function toPercent(cos: number, floor = 0): number {
  const scaled = (cos - floor) / (1 - floor);
  return Math.round(Math.min(1, Math.max(0, scaled)) * 1000) / 10;
}

/**
 * Keeps the best-scoring item of each identity, best first. Items must come sorted by score,
 * descending (as a k-NN search returns them).
 */
export function bestPerIdentity<T extends { name: string }>(sorted: readonly T[], limit: number): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of sorted) {
    if (seen.has(item.name)) continue;
    seen.add(item.name);
    out.push(item);
    if (out.length === limit) break;
  }
  return out;
}
