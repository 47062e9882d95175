// The build's rate for its ETA. Measured from the moment every worker has finished a first batch,
// since first batches also pay for warming up the models (arenas, pre-packed weights), which made
// the ETA of an early build 30-40 % too long; and over the last few minutes only once the build runs
// longer, so that it follows the machine's load as it changes.
//
// Results arrive a batch at a time, each worker's in turn, so the count of rows done is a staircase:
// a rate taken between two points of it swings with where on a step "now" falls (the bench's ETA was
// 25 % off at one update and 9 % at the next). The rate is the slope of a least-squares line through
// every result in the window instead, which no single step moves much.

/** How far back the rate looks once the build has run this long. */
const WINDOW_MS = 5 * 60_000;

export class RateEstimator {
  private samples: { at: number; processed: number }[] = [];
  private seen = 0;

  /**
   * @param started when processing began (the reference while the workers warm up)
   * @param warmupResults results to wait for before measuring from the last of them (one per worker)
   */
  constructor(
    private readonly started: number,
    private readonly warmupResults: number,
  ) {}

  /** Records the running count of rows processed at a result; returns rows per second. */
  add(at: number, processed: number): number {
    const sinceStart = at > this.started ? (processed * 1000) / (at - this.started) : 0;
    if (this.seen < Math.max(1, this.warmupResults)) {
      this.seen++;
      if (this.seen === Math.max(1, this.warmupResults)) this.samples = [{ at, processed }];
      return sinceStart;
    }
    this.samples.push({ at, processed });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - WINDOW_MS) this.samples.shift();
    const ref = this.samples[0]!;
    const twoPoint = at > ref.at ? ((processed - ref.processed) * 1000) / (at - ref.at) : sinceStart;
    const slope = leastSquaresSlope(this.samples);
    return slope !== null && slope > 0 ? slope * 1000 : twoPoint;
  }
}

/** Rows per millisecond: the slope of the least-squares line through the samples, or null with fewer than three or no spread in time. */
function leastSquaresSlope(samples: readonly { at: number; processed: number }[]): number | null {
  const n = samples.length;
  if (n < 3) return null;
  // Times relative to the first sample keep the sums well inside double precision.
  const t0 = samples[0]!.at;
  let meanT = 0;
  let meanP = 0;
  for (const s of samples) {
    meanT += s.at - t0;
    meanP += s.processed;
  }
  meanT /= n;
  meanP /= n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    const dt = s.at - t0 - meanT;
    covariance += dt * (s.processed - meanP);
    variance += dt * dt;
  }
  return variance > 0 ? covariance / variance : null;
}
