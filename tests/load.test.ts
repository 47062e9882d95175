import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildPeopleIndex } from './support/engine.ts';
import { runTelegramLoad } from './support/loadScenario.ts';
import { peopleDir } from './support/paths.ts';

// Load through the Telegram emulator against the bot as a process: 200 photos from 50 users within a
// few seconds. Every photo gets exactly one answer (its picture, a rate-limit reply or a busy reply),
// the process stays up and its memory stays bounded. The latencies and the memory figure are for
// bench/load.ts; here only the outcome is checked (the bound is ten times what the bot needs).

// Held-out photos that still show their face after Telegram's re-encoding (see telegram-bot.test.ts).
const PEOPLE = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons', 'Kevin_Sussman', 'Mayim_Bialik'];
const heldOut = new Set(PEOPLE.map((p) => path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)));
let dataDir: string;

before(async () => {
  dataDir = (await buildPeopleIndex((file) => heldOut.has(file) || !PEOPLE.includes(path.basename(path.dirname(file))))).dataDir;
});

after(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('200 photos from 50 users in 4 seconds: one answer each (picture, rate limit or busy), the bot up, its memory bounded', { timeout: 600_000 }, async () => {
  const perMinute = 3;
  const r = await runTelegramLoad({ dataDir, users: 50, photosPerUser: 4, spreadSeconds: 4, people: PEOPLE, env: { LOOKALIKE_RATE_LIMIT_PER_MINUTE: String(perMinute) } });
  const kinds = new Map<string, number>();
  for (const a of r.answers) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
  const summary = JSON.stringify(Object.fromEntries(kinds));
  assert.ok(r.stayedUp, `the bot died under load:\n${r.stderrTail}`);
  assert.equal(r.exitCode, 0, `a clean stop afterwards:\n${r.stderrTail}`);
  assert.equal(r.answers.length, 200);
  for (const a of r.answers) {
    assert.equal(a.count, 1, `exactly one answer per photo (${a.person}: ${a.text})`);
    assert.ok(a.kind === 'picture' || a.kind === 'rate_limited' || a.kind === 'busy', `${a.kind}: ${a.text}`);
    if (a.kind === 'picture') assert.match(a.text, new RegExp(`^You look like ${a.person.replace(/_/g, ' ')} `), a.text);
  }
  assert.ok((kinds.get('picture') ?? 0) >= 2, summary);
  assert.ok((kinds.get('busy') ?? 0) >= 1, `a flood this size must meet the queue limit: ${summary}`);
  for (let user = 0; user < r.users; user++) {
    const mine = r.answers.filter((a) => a.userId === r.answers[user]!.userId);
    assert.ok(mine.filter((a) => a.kind === 'picture').length <= perMinute, 'no user gets more than the rate limit');
  }
  assert.ok(r.peakRssMb < 2048, `peak RSS ${r.peakRssMb.toFixed(0)} MiB`);
});
