// Verification metrics for the accuracy tests.

export interface Scored {
  score: number;
  same: boolean;
}

/** Area under the ROC curve: the chance that a random same-person pair outscores a random different pair. */
export function rocAuc(pairs: readonly Scored[]): number {
  const pos = pairs.filter((p) => p.same).map((p) => p.score);
  const neg = pairs.filter((p) => !p.same).map((p) => p.score);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** Best accuracy over all thresholds, and that threshold (score >= threshold means "same person"). */
export function bestAccuracy(pairs: readonly Scored[]): { accuracy: number; threshold: number } {
  const sorted = [...pairs].sort((a, b) => b.score - a.score);
  const totalNeg = pairs.filter((p) => !p.same).length;
  // Threshold just above everything: all called "different".
  let best = { accuracy: totalNeg / pairs.length, threshold: Infinity };
  let tp = 0;
  let fp = 0;
  for (const [i, p] of sorted.entries()) {
    if (p.same) tp++;
    else fp++;
    if (i + 1 < sorted.length && sorted[i + 1]!.score === p.score) continue;
    const accuracy = (tp + totalNeg - fp) / pairs.length;
    if (accuracy > best.accuracy) best = { accuracy, threshold: p.score };
  }
  return best;
}
