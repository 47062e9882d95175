// Look-alike work runs after the chat update has been acknowledged, so that a slow photo does not
// hold up the next getUpdates poll (or a webhook response). The bot keeps the promises here so that
// stopping can wait for every accepted photo to be answered.

export class BackgroundJobs {
  private readonly jobs = new Set<Promise<void>>();

  get size(): number {
    return this.jobs.size;
  }

  /** The job must handle its own errors; a rejection here is only swallowed, never surfaced. */
  track(job: Promise<void>): void {
    const tracked = job.catch(() => {}).finally(() => this.jobs.delete(tracked));
    this.jobs.add(tracked);
  }

  /** Resolves once every job tracked so far, and any they started, has settled. */
  async drain(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }
}
