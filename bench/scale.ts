import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { QueueRouter } from '../src/bots/shared/queueRouter.ts';
import { DEFAULT_LIMITS } from '../src/bots/shared/limits.ts';
import { logger } from '../src/log.ts';
import { jobId } from '../src/queue/matchJobs.ts';
import { startMatchWorker } from '../src/queue/matchWorker.ts';
import { INDEX_QUEUE, KEY_PREFIX, MATCH_QUEUE, queueSettingsFromEnv } from '../src/queue/settings.ts';
import { lookalike } from '../tests/support/cli.ts';
import { buildPeopleIndex } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { startRedis, type RedisServer } from '../tests/support/redis.ts';
import { startService, type Service } from '../tests/support/services.ts';
import { TelegramEmulator, type ApiCall } from '../tests/support/telegramEmulator.ts';
import { median } from './stats.ts';

// Running at scale, measured on this machine (2 shared cores, so more worker processes cannot add CPU;
// what this shows is what the queue costs and that nothing is lost to it):
// - photos per second answered by `lookalike bot telegram` alone, and by a front end with 1 and with 2
//   `lookalike worker` processes, for the same burst of photos through the emulator;
// - the queue's added latency per photo: from a front end's admission to a worker's handler starting,
//   plus the reply ledger's claim and confirm, measured in one process with a no-op handler;
// - faces per second of the shared people's folder build: in one process (2 threads), and spread over
//   1 and 2 worker processes with `index build --redis`.
// `node --import tsx bench/scale.ts`

export interface ScaleBench {
  photos: number;
  /** Photos per second: in-process bot, front end + 1 worker, front end + 2 workers. */
  photosPerSecond: { inProcess: number; oneWorker: number; twoWorkers: number };
  /** The queue's added latency per photo, ms: median and p95 over sequential requests. */
  queueLatencyMs: { median: number; p95: number; samples: number };
  /** Folder build of the shared people, faces per second. */
  buildFacesPerSecond: { inProcess: number; oneWorker: number; twoWorkers: number };
  faces: number;
  loadAverage: number[];
}

const PEOPLE = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons', 'Kevin_Sussman', 'Mayim_Bialik'];
const PHOTOS = 40;

const isAnswer = (c: ApiCall) => c.ok && (c.method === 'sendMessage' || c.method === 'sendPhoto') && c.replyToMessageId !== undefined;

/** A burst of PHOTOS photos from 20 users through the emulator; seconds from the first send to the last answer. */
async function burst(redis: RedisServer | null, workerCount: number, dataDir: string, work: string): Promise<number> {
  const emu = await TelegramEmulator.start();
  const services: Service[] = [];
  try {
    const env: Record<string, string> = { TELEGRAM_BOT_TOKEN: emu.token, TELEGRAM_API_ROOT: emu.apiRoot, LOOKALIKE_QUEUE_SIZE: '1000', LOOKALIKE_RATE_LIMIT_PER_MINUTE: '1000', LOG_LEVEL: 'warn' };
    if (redis) env.LOOKALIKE_REDIS_URL = redis.url;
    const front = startService('front end', ['bot', 'telegram'], { ...env, LOG_LEVEL: 'info', LOOKALIKE_DATA_DIR: redis ? path.join(work, 'front') : dataDir });
    services.push(front);
    const workers = Array.from({ length: workerCount }, (_, i) =>
      startService(`worker ${i}`, ['worker', '--concurrency', String(2 / workerCount)], { ...env, LOG_LEVEL: 'info', LOOKALIKE_DATA_DIR: dataDir }),
    );
    services.push(...workers);
    await front.waitForLine('telegram bot polling');
    await Promise.all(workers.map((w) => w.waitForLine('worker ready')));
    const heldOut = PEOPLE.map((p) => readFileSync(path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)));
    const users = Array.from({ length: 20 }, (_, i) => emu.createUser({ firstName: `Bench${i}` }));
    const since = emu.mark();
    const started = performance.now();
    for (let n = 0; n < PHOTOS; n++) {
      const user = users[n % users.length]!;
      await emu.sendPhoto(user, emu.privateChat(user), heldOut[n % heldOut.length]!);
    }
    const answers = await emu.waitForCount(isAnswer, PHOTOS, { since, timeoutMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    const pictures = answers.filter((a) => a.method === 'sendPhoto').length;
    if (pictures !== PHOTOS) throw new Error(`${pictures} of ${PHOTOS} answers were pictures`);
    return seconds;
  } finally {
    await Promise.all(services.map((s) => s.stop(30_000)));
    await emu.close();
  }
}

/** Admission to handler start, plus the ledger's claim and confirm, for sequential requests with a no-op handler. */
async function queueLatency(redis: RedisServer, samples: number): Promise<number[]> {
  const settings = queueSettingsFromEnv({}, redis.url)!;
  const log = logger('bench-scale');
  const router = new QueueRouter(settings, { ...DEFAULT_LIMITS, perUserRequests: 1_000_000, queueSize: 1_000_000 }, log);
  let arrived: ((at: number) => void) | undefined;
  const worker = startMatchWorker(settings, {
    handlers: {
      bench: async (_data, ctx) => {
        await ctx.sendOnce(async () => undefined);
        arrived?.(performance.now());
      },
    },
    concurrency: 1,
    timeoutMs: 60_000,
    log,
  });
  await worker.worker.waitUntilReady();
  const out: number[] = [];
  try {
    for (let i = 0; i < samples + 20; i++) {
      const done = new Promise<number>((resolve) => (arrived = resolve));
      const t = performance.now();
      await router.admit({
        platform: 'bench',
        userKey: 'bench:1',
        context: {},
        local: async () => {},
        remote: async () => ({ id: jobId('bench', i), data: { platform: 'bench', kind: 'photo', admittedAt: Date.now() } }),
      });
      const at = await done;
      // The first requests warm the connections up.
      if (i >= 20) out.push(at - t);
    }
  } finally {
    await worker.close();
    await router.close();
  }
  return out;
}

async function buildSeconds(redis: RedisServer | null, workerCount: number, work: string): Promise<{ seconds: number; faces: number }> {
  const data = mkdtempSync(path.join(work, 'build-'));
  const workers = Array.from({ length: redis ? workerCount : 0 }, (_, i) =>
    startService(`build worker ${i}`, ['worker', '--concurrency', String(2 / workerCount)], { LOOKALIKE_REDIS_URL: redis!.url, LOOKALIKE_DATA_DIR: path.join(work, `bw-${i}`) }),
  );
  try {
    // Processes up, models not loaded: both ways load them within the build (workers with its first job).
    await Promise.all(workers.map((w) => w.waitForLine('worker ready')));
    const t = performance.now();
    const r = await lookalike(['index', 'build', peopleDir, '--data', data, ...(redis ? ['--redis', redis.url] : ['--workers', '2'])]);
    const seconds = (performance.now() - t) / 1000;
    if (r.code !== 0) throw new Error(r.stderr);
    const faces = Number(/Indexed (\d+) faces/.exec(r.stderr)?.[1]);
    return { seconds, faces };
  } finally {
    await Promise.all(workers.map((w) => w.stop(30_000)));
    rmSync(data, { recursive: true, force: true });
  }
}

export async function benchScale(): Promise<ScaleBench> {
  const redis = await startRedis();
  const work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-scale-'));
  const heldOut = new Set(PEOPLE.map((p) => path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)));
  const { dataDir } = await buildPeopleIndex((file) => heldOut.has(file) || !PEOPLE.includes(path.basename(path.dirname(file))));
  const clear = async () => {
    for (const name of [MATCH_QUEUE, INDEX_QUEUE]) {
      const q = new Queue(name, { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: KEY_PREFIX });
      await q.obliterate({ force: true });
      await q.close();
    }
  };
  try {
    const latency = await queueLatency(redis, 200);
    await clear();
    const inProcess = PHOTOS / (await burst(null, 0, dataDir, work));
    const oneWorker = PHOTOS / (await burst(redis, 1, dataDir, work));
    await clear();
    const twoWorkers = PHOTOS / (await burst(redis, 2, dataDir, work));
    await clear();
    const local = await buildSeconds(null, 0, work);
    const one = await buildSeconds(redis, 1, work);
    const two = await buildSeconds(redis, 2, work);
    const sorted = [...latency].sort((a, b) => a - b);
    return {
      photos: PHOTOS,
      photosPerSecond: { inProcess, oneWorker, twoWorkers },
      queueLatencyMs: { median: median(latency), p95: sorted[Math.floor(0.95 * (sorted.length - 1))]!, samples: latency.length },
      buildFacesPerSecond: { inProcess: local.faces / local.seconds, oneWorker: one.faces / one.seconds, twoWorkers: two.faces / two.seconds },
      faces: local.faces,
      loadAverage: os.loadavg(),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    await redis.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`load ${os.loadavg()[0]!.toFixed(1)}`);
  console.log(JSON.stringify(await benchScale(), null, 1));
}
