// The build's rate for its ETA. Measured from the moment every worker has finished a first batch,
// since first batches also pay for warming up the models (arenas, pre-packed weights), which made
// the ETA of an early build 30-40 % too long; and over the last few minutes only once the build runs
// longer, so that it follows the machine's load as it changes.

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
    return at > ref.at ? ((processed - ref.processed) * 1000) / (at - ref.at) : sinceStart;
  }
}
