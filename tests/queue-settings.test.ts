import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../src/core/errors.ts';
import { ReplyLedger } from '../src/queue/replyLedger.ts';
import { queueSettingsFromEnv, recoveryBoundMs } from '../src/queue/settings.ts';
import { lookalike } from './support/cli.ts';
import { redisSkipReason, startRedis, type RedisServer } from './support/redis.ts';

// The queue's settings and the reply ledger on their own: bad variables get one line naming them,
// and the ledger lets one send through per request, however many workers try.

const skip = redisSkipReason();
let redis: RedisServer;

before(async () => {
  if (!skip) redis = await startRedis();
});
after(() => redis?.stop());

test('without LOOKALIKE_REDIS_URL nothing is queued; bad values are refused naming the variable, never the value', async () => {
  assert.equal(queueSettingsFromEnv({}), undefined);
  const s = queueSettingsFromEnv({ LOOKALIKE_REDIS_URL: 'redis://:secret@10.0.0.5:6379' })!;
  assert.deepEqual([s.lockMs, s.stalledIntervalMs, recoveryBoundMs(s)], [10_000, 5_000, 15_000]);
  assert.equal(queueSettingsFromEnv({ LOOKALIKE_REDIS_URL: 'redis://x:1', LOOKALIKE_JOB_LOCK_SECONDS: '4' })!.stalledIntervalMs, 2000);
  for (const [env, message] of [
    [{ LOOKALIKE_REDIS_URL: 'http://:hunter2@host:6379' }, /LOOKALIKE_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ LOOKALIKE_REDIS_URL: 'not a url hunter2' }, /LOOKALIKE_REDIS_URL is not a URL/],
    [{ LOOKALIKE_REDIS_URL: 'redis://x:1', LOOKALIKE_JOB_LOCK_SECONDS: '0' }, /LOOKALIKE_JOB_LOCK_SECONDS must be/],
  ] as const) {
    assert.throws(
      () => queueSettingsFromEnv(env),
      (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('hunter2'),
    );
  }
  const worker = await lookalike(['worker']);
  assert.equal(worker.code, 2);
  assert.match(worker.stderr, /^lookalike: lookalike worker needs the queue: set LOOKALIKE_REDIS_URL/m);
  const bot = await lookalike(['bot', 'telegram'], { TELEGRAM_BOT_TOKEN: '123456:ABCdefGHIjklMNOpqrSTUvwxYZ', LOOKALIKE_REDIS_URL: 'http://:hunter2@h:1' });
  assert.equal(bot.code, 2);
  assert.match(bot.stderr, /LOOKALIKE_REDIS_URL must be a redis/);
  assert.doesNotMatch(bot.stderr, /hunter2/);
});

test('the reply ledger: one of several concurrent senders sends, a failed send frees the claim, a sent request stays sent', { skip }, async () => {
  const client = redis.client();
  const ledger = new ReplyLedger(client, 1000);
  let sends = 0;
  const send = async () => {
    sends++;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return 'ok';
  };
  const outcomes = await Promise.all(['w1', 'w2', 'w3'].map((w) => ledger.sendOnce('req-1', w, send)));
  assert.equal(sends, 1);
  assert.deepEqual(outcomes.map((o) => o.sent).sort(), [false, false, true]);
  assert.ok(await ledger.isAnswered('req-1'));

  await assert.rejects(ledger.sendOnce('req-2', 'w1', async () => Promise.reject(new Error('network down'))));
  assert.equal(await ledger.isAnswered('req-2'), false);
  assert.deepEqual(await ledger.sendOnce('req-2', 'w2', async () => 'second try'), { sent: true, value: 'second try' });

  // A worker that died holding a claim: the claim expires and another worker answers.
  assert.equal(await ledger.claim('req-3', 'dead'), 'claimed');
  const t = performance.now();
  assert.deepEqual(await ledger.sendOnce('req-3', 'w2', async () => 'after expiry'), { sent: true, value: 'after expiry' });
  assert.ok(performance.now() - t >= 800, 'waited for the dead claim to expire');
});
