import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConfigError } from './core/errors.ts';
import type { Logger } from './log.ts';

// What the service does, for Prometheus: one registry per process (a front end, a worker, a bot that
// does both), served on LOOKALIKE_METRICS_PORT at /metrics. Requests are counted by platform and
// outcome where the outcome is decided (admission, the end of the task); stages are timed where they
// run; the queue's depth, the age of its oldest job and the worker count are read when scraped.

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'lookalike_' });

/** How a request ended, as an operator counts it. `refused` carries the reason's code. */
export type Outcome = 'answered' | 'no_face' | 'refused' | 'rate_limited' | 'busy' | 'timeout' | 'failed';

const requests = new Counter({
  name: 'lookalike_requests_total',
  help: 'Look-alike requests by platform and outcome (refused: by code)',
  labelNames: ['platform', 'outcome', 'code'] as const,
  registers: [registry],
});

const stages = new Histogram({
  name: 'lookalike_stage_seconds',
  help: 'Time per stage of a request: enqueue (front end to Redis), queue (admitted to started), work (download and match), match (the engine alone), morph (the engine making a morph), reply (sending the answer, workers), total',
  labelNames: ['platform', 'stage'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

const jobs = new Counter({
  name: 'lookalike_jobs_total',
  help: 'Queue jobs a worker finished, by queue and outcome (completed, failed, stalled, duplicate)',
  labelNames: ['queue', 'outcome'] as const,
  registers: [registry],
});

/** What the queue gauges read at scrape time; a bot without a queue reports its own admission state. */
export interface QueueState {
  waiting: number;
  active: number;
  /** Seconds since the oldest waiting job was added (0 when none waits). */
  oldestAgeSeconds: number;
  /** Worker processes connected (1 for a bot matching in its own process). */
  workers: number;
}

let queueSource: (() => Promise<QueueState>) | undefined;

const gauge = (name: string, help: string, pick: (s: QueueState) => number) =>
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      if (!queueSource) return;
      try {
        this.set(pick(await queueSource()));
      } catch {
        // Redis unreachable: the gauge keeps its last value; the scrape still answers.
      }
    },
  });
gauge('lookalike_queue_waiting', 'Match requests waiting for a worker', (s) => s.waiting);
gauge('lookalike_queue_active', 'Match requests being worked on', (s) => s.active);
gauge('lookalike_queue_oldest_age_seconds', 'Age of the oldest waiting match request', (s) => s.oldestAgeSeconds);
gauge('lookalike_workers', 'Worker processes taking match requests', (s) => s.workers);

/** Outcome of a refusal code: the named outcomes get their own, the rest are `refused`. */
export function outcomeOfCode(code: string): Outcome {
  if (code === 'no_face' || code === 'rate_limited' || code === 'busy' || code === 'timeout') return code;
  return 'refused';
}

export const metrics = {
  request(platform: string, outcome: Outcome, code = ''): void {
    requests.inc({ platform, outcome, code: outcome === 'refused' ? code : '' });
  },
  stage(platform: string, stage: 'enqueue' | 'queue' | 'work' | 'match' | 'morph' | 'reply' | 'total', seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) stages.observe({ platform, stage }, seconds);
  },
  job(queue: string, outcome: 'completed' | 'failed' | 'stalled' | 'duplicate'): void {
    jobs.inc({ queue, outcome });
  },
  /** Where the queue gauges come from (the last caller wins: one queue per process). */
  setQueueSource(source: (() => Promise<QueueState>) | undefined): void {
    queueSource = source;
  },
};

/**
 * A refusal, counted and logged at info with its code: a refused request otherwise leaves no trace at
 * the default level. Context: ids only (chat, user, interaction), never a file or a URL.
 */
export function recordRefusal(log: Logger, platform: string, code: string, context: Record<string, unknown> = {}): void {
  metrics.request(platform, outcomeOfCode(code), code);
  log.info({ ...context, platform, code }, 'request refused');
}

/** LOOKALIKE_METRICS_PORT: a port number (0: any free port, said in the log), or unset for no endpoint. */
export function metricsPortFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.LOOKALIKE_METRICS_PORT?.trim();
  if (!raw) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('LOOKALIKE_METRICS_PORT must be a port number');
  return port;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics (text format) on the port; LOOKALIKE_METRICS_HOST picks the address (default all). */
export async function startMetricsServer(port: number, log: Logger, host = process.env.LOOKALIKE_METRICS_HOST?.trim() || '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.warn({ err }, 'metrics scrape failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ metricsPort: bound }, 'metrics endpoint listening');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
