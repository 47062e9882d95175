import type { Point } from '../types.ts';

// MediaPipe's "weighted" non-maximum suppression: instead of keeping the best of a cluster of
// overlapping detections and dropping the rest, the cluster's boxes and keypoints are averaged,
// weighted by score. A face fires several anchors (and several pyramid levels); their average is
// steadier than any one of them, which matters for the keypoints alignment is fitted to.

export interface Candidate {
  score: number;
  /** Box corners, in image pixels. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  keypoints: Point[];
}

function iou(a: Candidate, b: Candidate): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter);
}

/**
 * Clusters candidates that overlap the cluster's best by at least minIou, best first, and returns one
 * blended candidate per cluster carrying the best score.
 */
export function blendOverlapping(candidates: readonly Candidate[], minIou: number): Candidate[] {
  const rest = [...candidates].sort((a, b) => b.score - a.score);
  const out: Candidate[] = [];
  while (rest.length > 0) {
    const best = rest[0]!;
    const cluster: Candidate[] = [];
    for (let i = rest.length - 1; i >= 0; i--) {
      if (i === 0 || iou(best, rest[i]!) >= minIou) cluster.push(...rest.splice(i, 1));
    }
    out.push(weightedMean(cluster, best.score));
  }
  return out;
}

function weightedMean(cluster: readonly Candidate[], score: number): Candidate {
  let total = 0;
  const sum = { x0: 0, y0: 0, x1: 0, y1: 0 };
  const points = cluster[0]!.keypoints.map(() => ({ x: 0, y: 0 }));
  for (const c of cluster) {
    total += c.score;
    sum.x0 += c.score * c.x0;
    sum.y0 += c.score * c.y0;
    sum.x1 += c.score * c.x1;
    sum.y1 += c.score * c.y1;
    c.keypoints.forEach((p, k) => {
      points[k]!.x += c.score * p.x;
      points[k]!.y += c.score * p.y;
    });
  }
  return {
    score,
    x0: sum.x0 / total,
    y0: sum.y0 / total,
    x1: sum.x1 / total,
    y1: sum.y1 / total,
    keypoints: points.map((p) => ({ x: p.x / total, y: p.y / total })),
  };
}

/**
 * Resolves candidates that mostly overlap (more than maxInside of the smaller lies inside the other):
 * faces do not nest. A face much larger than the band a pyramid level sees makes that level fire on
 * its parts (an eye, a cheek), so the larger box is kept, unless the smaller scores clearly better
 * (by SCORE_LEAD): then the larger is a vague blob around a face a finer level sees clearly.
 */
export function dropNested(candidates: readonly Candidate[], maxInside: number): Candidate[] {
  const area = (c: Candidate) => (c.x1 - c.x0) * (c.y1 - c.y0);
  const kept: Candidate[] = [];
  for (const c of [...candidates].sort((a, b) => area(b) - area(a))) {
    const overlap = (k: Candidate) => {
      const w = Math.min(k.x1, c.x1) - Math.max(k.x0, c.x0);
      const h = Math.min(k.y1, c.y1) - Math.max(k.y0, c.y0);
      return w > 0 && h > 0 ? (w * h) / Math.min(area(c), area(k)) : 0;
    };
    const clashes = kept.filter((k) => overlap(k) > maxInside);
    if (clashes.length === 0) kept.push(c);
    else if (clashes.every((k) => c.score >= k.score + SCORE_LEAD)) {
      for (const k of clashes) kept.splice(kept.indexOf(k), 1);
      kept.push(c);
    }
  }
  return kept;
}

/** How much better a nested box must score to replace the box around it. */
const SCORE_LEAD = 0.1;
