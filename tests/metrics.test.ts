import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { availableParallelism } from 'node:os';
import { intraOpThreadsFor, openEngine } from '../src/core/engine.ts';
import { openBotEngine } from '../src/bots/shared/service.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { observeEngine } from '../src/bots/shared/observe.ts';
import { metricsPortFromEnv, startMetricsServer, type MetricsServer } from '../src/metrics.ts';
import { logger } from '../src/log.ts';
import { ConfigError } from '../src/core/errors.ts';
import { buildPeopleIndex, config } from './support/engine.ts';
import { peopleDir, scenesDir } from './support/paths.ts';
import { scrape, sumOf } from './support/services.ts';
import { answerTo, withHarness } from './support/telegramHarness.ts';

// The Prometheus endpoint of a bot matching in its own process (no queue): after a few requests the
// counters say how each ended (answered, no face, refused by code, rate-limited), the stages are timed
// and the queue gauges show the bot's own admission state.

const PERSON = 'Barack_Obama';
const selfie = path.join(peopleDir, PERSON, readdirSync(path.join(peopleDir, PERSON)).sort()[0]!);
let dataDir: string;
let engine: LookalikeEngine;
let server: MetricsServer;

before(async () => {
  dataDir = (await buildPeopleIndex((file) => file === selfie || !file.includes(`/${PERSON}/`))).dataDir;
  engine = observeEngine(await openEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' }));
  server = await startMetricsServer(0, logger('metrics-test'), '127.0.0.1');
});

after(async () => {
  await server?.close();
  await engine?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('counters by platform and outcome after a picture, a photo with no face, an unsupported file and a rate-limited photo', { timeout: 300_000 }, async () => {
  const before = await scrape(server.port);
  const count = (m: Map<string, number>, labels: Record<string, string>) => sumOf(m, 'lookalike_requests_total', { platform: 'telegram', ...labels });
  await withHarness({ engine, limits: { perUserRequests: 2 } }, async (h) => {
    const user = h.emu.createUser({ firstName: 'Mia' });
    const chat = h.emu.privateChat(user);
    const picture = await answerTo(h.emu, await h.emu.sendPhoto(user, chat, readFileSync(selfie)), 120_000);
    assert.equal(picture.method, 'sendPhoto');
    const blank = await answerTo(h.emu, await h.emu.sendPhoto(user, chat, readFileSync(path.join(scenesDir, 'faceapi_bbt__white.png'))), 120_000);
    assert.match(blank.text ?? '', /couldn't find a face/);
    const doc = await answerTo(h.emu, h.emu.sendDocument(user, chat, Buffer.from('%PDF-1.4\n'), { fileName: 'cv.pdf', mimeType: 'application/pdf' }));
    assert.match(doc.text ?? '', /isn't a photo/);
    const limited = await answerTo(h.emu, await h.emu.sendPhoto(user, chat, readFileSync(selfie)));
    assert.match(limited.text ?? '', /^Easy there!/);
  });
  const now = await scrape(server.port);
  const delta = (labels: Record<string, string>) => count(now, labels) - count(before, labels);
  assert.equal(delta({ outcome: 'answered' }), 1);
  assert.equal(delta({ outcome: 'no_face' }), 1);
  assert.equal(delta({ outcome: 'refused', code: 'unsupported_file' }), 1);
  assert.equal(delta({ outcome: 'rate_limited' }), 1);
  assert.equal(delta({ outcome: 'busy' }), 0);
  const stageCount = (m: Map<string, number>, stage: string, platform = 'telegram') => sumOf(m, 'lookalike_stage_seconds_count', { platform, stage });
  assert.equal(stageCount(now, 'work') - stageCount(before, 'work'), 2, 'the two admitted photos were timed');
  assert.equal(stageCount(now, 'match', 'engine') - stageCount(before, 'match', 'engine'), 2);
  assert.ok(now.has('lookalike_queue_waiting') && now.has('lookalike_workers'), 'queue gauges');
  assert.ok(sumOf(now, 'lookalike_process_resident_memory_bytes') > 0, 'process metrics');
});

test('LOOKALIKE_METRICS_PORT must be a port number', () => {
  assert.equal(metricsPortFromEnv({}), undefined);
  assert.equal(metricsPortFromEnv({ LOOKALIKE_METRICS_PORT: '9464' }), 9464);
  assert.throws(() => metricsPortFromEnv({ LOOKALIKE_METRICS_PORT: 'http://x' }), (err: Error) => err instanceof ConfigError && /LOOKALIKE_METRICS_PORT/.test(err.message));
});

test('threads: a bot\'s engine gives libvips its share of the cores, `match`\'s engine gives it every core', { timeout: 120_000 }, async () => {
  const bot = await openBotEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' }, { concurrency: 2 });
  try {
    assert.equal(sharp.concurrency(), intraOpThreadsFor(2));
  } finally {
    await bot.close();
  }
  const alone = await openEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  try {
    assert.equal(sharp.concurrency(), availableParallelism());
  } finally {
    await alone.close();
  }
});
