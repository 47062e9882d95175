import type { LookalikeEngine } from '../../core/engineTypes.ts';
import type { VideoEvent } from '../../core/video/types.ts';
import type { Logger } from '../../log.ts';
import { metrics, outcomeOfCode, recordRefusal } from '../../metrics.ts';
import type { Admitted, TaskOutcome } from './limits.ts';

// Counting and timing requests without the features knowing: the admission a feature runs its task
// through, and the engine it matches with, are wrapped. The task's value says how the request ended
// (a Result, or a bot's own refusal code as a string); a throw is a failure.

export interface ObserveContext {
  platform: string;
  log: Logger;
  /** When the request was admitted (performance.now() clock), for the queue stage. */
  admittedAt: number;
  /** Ids for the refusal log line (chat, user, interaction); never a file or a URL. */
  context?: Record<string, unknown>;
}

/** How a task's value ended the request: answered, or the refusal code it carries. */
function codeOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'ok' in value && (value as { ok: unknown }).ok === false) {
    const error = (value as { error?: { code?: unknown } }).error;
    return typeof error?.code === 'string' ? error.code : 'unknown';
  }
  return null;
}

/** The same admission, with its wait, its work and its outcome counted. */
export function observeAdmitted(inner: Admitted, ctx: ObserveContext): Admitted {
  return {
    queued: inner.queued,
    async run<T>(task: (signal: AbortSignal) => Promise<T>): Promise<TaskOutcome<T>> {
      let started: number | undefined;
      let outcome: TaskOutcome<T>;
      try {
        outcome = await inner.run(async (signal) => {
          started = performance.now();
          metrics.stage(ctx.platform, 'queue', (started - ctx.admittedAt) / 1000);
          return task(signal);
        });
      } catch (err) {
        metrics.request(ctx.platform, 'failed');
        throw err;
      }
      const ended = performance.now();
      if (started !== undefined) metrics.stage(ctx.platform, 'work', (ended - started) / 1000);
      metrics.stage(ctx.platform, 'total', (ended - ctx.admittedAt) / 1000);
      if (outcome.status === 'timeout') {
        recordRefusal(ctx.log, ctx.platform, 'timeout', ctx.context);
        return outcome;
      }
      const code = codeOf(outcome.value);
      if (code === null) metrics.request(ctx.platform, 'answered');
      else if (outcomeOfCode(code) === 'refused' || code === 'no_face') recordRefusal(ctx.log, ctx.platform, code, ctx.context);
      else metrics.request(ctx.platform, outcomeOfCode(code), code);
      return outcome;
    },
  };
}

/** The engine with each match and morph timed (platform `engine`: one engine may serve both bots). */
export function observeEngine(engine: LookalikeEngine): LookalikeEngine {
  const timed: LookalikeEngine = {
    get modelId() {
      return engine.modelId;
    },
    get gallerySize() {
      return engine.gallerySize;
    },
    match: (bytes, opts) => timeStage('match', () => engine.match(bytes, opts)),
    close: () => engine.close(),
  };
  if (engine.matchVideo) {
    timed.matchVideo = (input, opts) => timeVideo(engine.matchVideo!(input, opts));
  }
  if (engine.morph) {
    timed.morph = (bytes, opts) => timeStage('morph', () => engine.morph!(bytes, opts));
  }
  return timed;
}

async function timeStage<T>(stage: 'match' | 'morph', work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    metrics.stage('engine', stage, (performance.now() - t) / 1000);
  }
}

async function* timeVideo(events: AsyncIterable<VideoEvent>): AsyncIterable<VideoEvent> {
  const t = performance.now();
  try {
    yield* events;
  } finally {
    metrics.stage('engine', 'match', (performance.now() - t) / 1000);
  }
}
