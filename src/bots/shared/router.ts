import type { Logger } from '../../log.ts';
import { metrics, recordRefusal } from '../../metrics.ts';
import type { MatchJob } from '../../queue/matchJobs.ts';
import { RequestLimits, type Admitted, type Refusal } from './limits.ts';
import { observeAdmitted } from './observe.ts';

// Where an admitted look-alike request runs: here, in this process (the default), or on a worker,
// through the queue (LOOKALIKE_REDIS_URL). Each bot calls admit() in one place with both ways of
// running the request; which one runs is decided here, once per process.

export type Routed = { status: 'ok'; done: Promise<void> } | Refusal;

export interface RouteRequest {
  platform: string;
  /** Whose rate limit it counts against, e.g. "telegram:42". */
  userKey: string;
  /** Ids for logs (chat, user, interaction). */
  context: Record<string, unknown>;
  /** In this process: the request's body with its admission (as RequestLimits.withAdmission). */
  local: (admitted: Admitted) => Promise<void>;
  /**
   * On a worker: what the front end does first (a deferral, a "Watching..." message) and the job it then
   * enqueues; null when there is nobody left to answer (the first message could not be sent).
   */
  remote: () => Promise<MatchJob | null>;
}

export interface RequestRouter {
  readonly mode: 'local' | 'queue';
  /** Decides now (rate limit, queue length); refusals are counted and logged here, at info. */
  admit(req: RouteRequest): Promise<Routed>;
  close(): Promise<void>;
}

/** Everything in this process, under the limits of RequestLimits (shared by every bot of the process). */
export class LocalRouter implements RequestRouter {
  readonly mode = 'local';
  constructor(
    readonly limits: RequestLimits,
    private readonly log: Logger,
  ) {
    metrics.setQueueSource(async () => ({ waiting: limits.waiting, active: limits.active, oldestAgeSeconds: 0, workers: 1 }));
  }

  async admit(req: RouteRequest): Promise<Routed> {
    const admittedAt = performance.now();
    const admission = this.limits.withAdmission(req.userKey, (admitted) =>
      req.local(observeAdmitted(admitted, { platform: req.platform, log: this.log, admittedAt, context: req.context })),
    );
    if (admission.status !== 'ok') recordRefusal(this.log, req.platform, admission.status, req.context);
    return admission;
  }

  async close(): Promise<void> {}
}
