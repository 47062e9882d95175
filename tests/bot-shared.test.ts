import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCEPTED_FORMATS_TEXT } from '../src/core/decode.ts';
import type { MatchReport } from '../src/core/engineTypes.ts';
import { bestMatch, htmlMarkup, leaderboardText, matchCaption, plainMarkup } from '../src/bots/shared/format.ts';
import { EditThrottle } from '../src/bots/shared/editThrottle.ts';
import { translator } from '../src/bots/shared/i18n.ts';
import { limitsFromEnv, RequestLimits, type Admitted } from '../src/bots/shared/limits.ts';
import { replyText } from '../src/bots/shared/replies.ts';
import { intraOpThreadsFor } from '../src/core/engine.ts';

const t = translator('en');

// The parts both chat bots share: admission control, reply texts, captions and leaderboards.

function report(faces: [string, number][][]): MatchReport {
  const box = { x: 0, y: 0, width: 10, height: 10 };
  return {
    faces: faces.map((matches) => ({ box, source: 'cascade', matches: matches.map(([name, similarity]) => ({ name, similarity, image: `${name}.jpg`, box })) })),
    facesFound: faces.length,
    composite: Buffer.from('jpeg'),
    modelId: 'test',
  };
}

/**
 * An admission whose body hands its Admitted to the test and holds its place until `finish` (or until
 * the task it runs ends): what a bot request does between admission and answer.
 */
function admit(limits: RequestLimits, key: string) {
  let finish: () => void = () => {};
  let admitted: Admitted | undefined;
  const decision = limits.withAdmission(key, (a) => {
    admitted = a;
    return new Promise<void>((resolve) => (finish = resolve));
  });
  return {
    decision,
    status: decision.status,
    queued: decision.status === 'ok' && decision.queued,
    run: <T>(task: (signal: AbortSignal) => Promise<T>) => admitted!.run(task),
    finish: () => finish(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('limits: a user gets perUserRequests per window, then a retry time; the window slides', () => {
  let now = 1_000_000;
  const limits = new RequestLimits({ perUserRequests: 2, perUserWindowMs: 60_000, concurrency: 10, queueSize: 0 }, () => now);
  assert.equal(admit(limits, 'u1').status, 'ok');
  now += 10_000;
  assert.equal(admit(limits, 'u1').status, 'ok');
  assert.deepEqual(admit(limits, 'u1').decision, { status: 'rate_limited', retryAfterSec: 50 });
  assert.equal(admit(limits, 'u2').status, 'ok', 'another user is not affected');
  now += 50_000;
  assert.equal(admit(limits, 'u1').status, 'ok', 'the first request has left the window');
});

test('limits: concurrency slots, then a bounded queue, then busy; a busy answer costs the user nothing', async () => {
  const limits = new RequestLimits({ perUserRequests: 100, concurrency: 2, queueSize: 1, timeoutMs: 10_000 });
  const gates: (() => void)[] = [];
  const order: string[] = [];
  const task = (name: string) => () =>
    new Promise<string>((resolve) => {
      order.push(`start ${name}`);
      gates.push(() => resolve(name));
    });
  const a = admit(limits, 'a');
  const b = admit(limits, 'b');
  const c = admit(limits, 'c');
  const d = admit(limits, 'd');
  assert.equal(a.status, 'ok');
  assert.equal(b.status, 'ok');
  assert.ok(c.status === 'ok' && c.queued, 'third request waits in the queue');
  assert.equal(d.status, 'busy');
  const runs = [a.run(task('a')), b.run(task('b')), c.run(task('c'))];
  await tick();
  assert.deepEqual(order, ['start a', 'start b']);
  assert.equal(limits.active, 2);
  assert.equal(limits.waiting, 1);
  gates.shift()!();
  await runs[0];
  await tick();
  assert.deepEqual(order, ['start a', 'start b', 'start c'], 'the queued request starts when a slot frees');
  gates.shift()!();
  gates.shift()!();
  const outcomes = await Promise.all(runs);
  assert.deepEqual(outcomes, [
    { status: 'done', value: 'a' },
    { status: 'done', value: 'b' },
    { status: 'done', value: 'c' },
  ]);
  await tick();
  assert.equal(limits.active, 0);
  assert.equal(limits.held, 0, 'every place given back once the tasks ended');
  assert.equal(admit(limits, 'd').status, 'ok', 'd was never counted against its rate limit');
});

test('limits: a request that never runs its task gives its place back when its body settles, thrown or not', async () => {
  const limits = new RequestLimits({ perUserRequests: 100, concurrency: 1, queueSize: 0 });
  // A body that fails before running anything (the "Watching..." message could not be sent).
  const failed = limits.withAdmission('a', async () => {
    throw new Error('403: Forbidden: bot was blocked by the user');
  });
  assert.equal(failed.status, 'ok');
  assert.equal(admit(limits, 'b').status, 'busy', 'the place is held while the body runs');
  await assert.rejects((failed as { done: Promise<void> }).done, /bot was blocked/);
  assert.equal(limits.held, 0);
  // A body that simply returns (Discord refused the deferral).
  const dropped = limits.withAdmission('c', async () => {});
  await (dropped as { done: Promise<void> }).done;
  assert.equal(limits.held, 0);
  // A body that throws synchronously.
  const sync = limits.withAdmission('d', () => {
    throw new Error('synchronous');
  });
  await assert.rejects((sync as { done: Promise<void> }).done, /synchronous/);
  assert.equal(limits.held, 0);
  const next = admit(limits, 'e');
  assert.equal(next.status, 'ok', 'the one place is free again');
  next.finish();
});

test('limits: a timed-out task is answered at once but keeps its slot until it stops; errors propagate', async () => {
  const limits = new RequestLimits({ concurrency: 1, queueSize: 1, timeoutMs: 50 });
  const stuck = admit(limits, 'a');
  const queued = admit(limits, 'b');
  assert.ok(stuck.status === 'ok' && queued.status === 'ok');
  let aborted = false;
  let release!: () => void;
  const outcome = stuck.run(
    (signal) =>
      new Promise<string>((resolve) => {
        signal.addEventListener('abort', () => (aborted = true));
        // A stage that does not look at the signal: it ends when it ends.
        release = () => resolve('late');
      }),
  );
  let queuedStarted = false;
  // Queued behind the stuck task, it starts only when that one has stopped, with no time left of its own.
  const waiting = queued.run(async () => {
    queuedStarted = true;
    return 'b';
  });
  assert.deepEqual(await outcome, { status: 'timeout' });
  assert.equal(aborted, true, 'the task was told to stop');
  assert.equal(limits.active, 1, 'the timed-out task still holds its slot');
  assert.deepEqual(await waiting, { status: 'timeout' }, 'queue time counts towards the timeout');
  assert.equal(queuedStarted, false, 'nothing ran beside the task that had not stopped');
  release();
  await tick();
  await tick();
  assert.equal(limits.active, 0);
  assert.equal(limits.held, 0);
  const next = admit(limits, 'c');
  assert.equal(next.status, 'ok');
  await assert.rejects(next.run(async () => Promise.reject(new Error('engine exploded'))), /engine exploded/);
  await tick();
  assert.equal(limits.active, 0);
});

test('limits: under a flood of slow requests that time out, at most `concurrency` tasks ever run', async () => {
  const limits = new RequestLimits({ perUserRequests: 100, concurrency: 2, queueSize: 30, timeoutMs: 40 });
  let running = 0;
  let most = 0;
  const outcomes: Promise<unknown>[] = [];
  for (let i = 0; i < 24; i++) {
    const r = admit(limits, `u${i}`);
    assert.equal(r.status, 'ok');
    outcomes.push(
      r.run(async (signal) => {
        running++;
        most = Math.max(most, running);
        // Slower than the timeout, and deaf to the signal for its first 60 ms (one long stage).
        await new Promise((resolve) => setTimeout(resolve, 60));
        running--;
        signal.throwIfAborted();
        return i;
      }),
    );
  }
  await Promise.all(outcomes);
  while (limits.active > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(most <= 2, `${most} tasks ran at once with concurrency 2`);
  assert.equal(limits.held, 0);
});

test('edit throttle: one edit per chat per interval; chats whose interval has passed are forgotten', () => {
  let now = 0;
  const throttle = new EditThrottle<number>(1500, () => now);
  assert.equal(throttle.due(1), true);
  throttle.mark(1);
  assert.equal(throttle.due(1), false);
  assert.equal(throttle.due(2), true, 'another chat is not held back');
  now = 1000;
  for (let chat = 100; chat < 10_100; chat++) throttle.mark(chat);
  assert.equal(throttle.size, 10_001);
  now = 1500;
  assert.equal(throttle.due(1), true);
  assert.equal(throttle.size, 10_000, 'chat 1 is forgotten once its interval has passed');
  now = 2600;
  throttle.mark(7);
  assert.equal(throttle.size, 1, 'ten thousand chats that stopped sending videos are not kept');
  assert.equal(throttle.due(7), false);
});

test('limits from the environment name the variable when wrong', () => {
  assert.deepEqual(limitsFromEnv({ LOOKALIKE_CONCURRENCY: '3', LOOKALIKE_TIMEOUT_SECONDS: '20', LOOKALIKE_QUEUE_SIZE: '0' }), {
    concurrency: 3,
    timeoutMs: 20_000,
    queueSize: 0,
  });
  assert.throws(() => limitsFromEnv({ LOOKALIKE_RATE_LIMIT_PER_MINUTE: 'lots' }), /LOOKALIKE_RATE_LIMIT_PER_MINUTE/);
});

test('caption: one face names the top match, its similarity and the runners-up', () => {
  const caption = matchCaption(report([[['Barack_Obama', 81.6], ['Joe Biden', 70.2], ['Elon Musk', 64], ['Jim Parsons', 60], ['Paul Rudd', 59]]]), {
    markup: plainMarkup,
    t,
    maxLength: 1024,
  });
  assert.equal(caption, 'You look like Barack Obama (82% similar).\nRunners-up: Joe Biden 70%, Elon Musk 64%, Jim Parsons 60%');
});

test('caption: several faces give one row each; HTML is escaped; rows that do not fit are counted', () => {
  const faces: [string, number][][] = [
    [['Kaley Cuoco', 77], ['Melissa Rauch', 70]],
    [['Jim <Parsons> & co', 74], ['Simon Helberg', 71]],
  ];
  const html = matchCaption(report(faces), { markup: htmlMarkup, t, maxLength: 1024 });
  assert.equal(html, '2 faces, largest first:\n1. <b>Kaley Cuoco</b> 77% (then Melissa Rauch 70%)\n2. <b>Jim &lt;Parsons&gt; &amp; co</b> 74% (then Simon Helberg 71%)');
  const many = report(Array.from({ length: 6 }, (_, i) => [[`Person Number ${i}`, 90 - i], ['Somebody Else', 50]] as [string, number][]));
  const short = matchCaption(many, { markup: plainMarkup, t, maxLength: 120 });
  assert.ok(short.length <= 120, short);
  assert.match(short, /^6 faces, largest first:\n1\. Person Number 0 90%/);
  assert.match(short, /…and \d more$/);
  assert.equal(bestMatch(report(faces))?.name, 'Kaley Cuoco');
});

test('leaderboard text ranks rows as given, escapes names, lists the most matched', () => {
  const text = leaderboardText(
    [
      { rank: 1, userId: '1', displayName: 'Ann <3', celebrity: 'Angelina_Jolie', similarity: 88.4 },
      { rank: 2, userId: '2', displayName: 'Bob', celebrity: 'Barack Obama', similarity: 71 },
    ],
    [
      { celebrity: 'Angelina_Jolie', count: 3 },
      { celebrity: 'Barack Obama', count: 1 },
    ],
    { markup: htmlMarkup, t, maxLength: 4096, title: 'Board of A&B', empty: 'nobody' },
  );
  assert.equal(text, '<b>Board of A&amp;B</b>\n1. Ann &lt;3: Angelina Jolie, 88%\n2. Bob: Barack Obama, 71%\n\n<b>Most matched</b>: Angelina Jolie (3), Barack Obama (1)');
  assert.match(leaderboardText([], [], { markup: plainMarkup, t, maxLength: 4096, empty: t('leaderboard.empty_telegram') }), /Nobody here is on it yet/);
});

test('every failure code has a short reply; the size limit is stated when known', () => {
  assert.match(replyText(t, 'file_too_large', { maxFileBytes: 20 * 1024 * 1024 }), /over 20 MB/);
  assert.match(replyText(t, 'file_too_large', { maxFileBytes: null }), /too large/);
  assert.match(replyText(t, 'rate_limited', { retryAfterSec: 42 }), /42 seconds/);
  assert.match(replyText(t, 'rate_limited', { retryAfterSec: 1 }), /1 second\./);
  assert.match(replyText(t, 'no_such_face', { faces: 30 }), /30 faces in this photo: ask for one from 1 to 30/);
  assert.match(replyText(t, 'no_such_face', { faces: 1 }), /only one face/);
  // The formats named are the decoder's, listed in the asker's language.
  assert.ok(replyText(t, 'not_an_image').includes(ACCEPTED_FORMATS_TEXT), replyText(t, 'not_an_image'));
  assert.match(replyText(translator('es'), 'unsupported_file'), /JPEG, PNG, WebP, GIF, AVIF o TIFF/);
  for (const code of [
    'no_face', 'not_an_image', 'corrupt_image', 'empty_file', 'too_many_pixels', 'no_index', 'busy', 'timeout', 'unsupported_file',
    'gender_unavailable', 'video_not_supported', 'not_a_video', 'no_video_stream', 'video_too_long', 'corrupt_video', 'no_photo', 'download_failed',
  ] as const) {
    const text = replyText(t, code);
    assert.ok(!text.startsWith('reply.'), `${code} has a catalogue entry, got the key back`);
    assert.ok(text.length > 10 && text.length < 200, `${code}: ${text}`);
  }
});

test('ONNX Runtime threads: the cores are shared out among the requests a service runs at once, one each at least', () => {
  assert.equal(intraOpThreadsFor(2, 2), 1, 'the bots\' default two on 2 cores');
  assert.equal(intraOpThreadsFor(1, 2), 2, 'one request at a time keeps both cores');
  assert.equal(intraOpThreadsFor(2, 8), 4);
  assert.equal(intraOpThreadsFor(3, 8), 2);
  assert.equal(intraOpThreadsFor(16, 2), 1, 'never none');
  assert.equal(intraOpThreadsFor(0, 4), 4, 'a nonsense count counts as one');
});
