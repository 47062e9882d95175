import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_PREFIX } from '../src/bots/discord/texts.ts';
import { buildPeopleIndex } from './support/engine.ts';
import { peopleDir, scenesDir } from './support/paths.ts';
import { redisSkipReason, startRedis, type RedisServer } from './support/redis.ts';
import { startService, type Service } from './support/services.ts';
import { DiscordEmulator } from './support/discordEmulator.ts';

// The Discord bot at scale: `lookalike bot discord` as a front end of the queue defers each interaction
// and enqueues it; a `lookalike worker` answers through the interaction's webhook (no gateway, no bot
// token of its own) and records the result in the store the front end reads the leaderboard from.

const skip = redisSkipReason();
const PEOPLE = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons'];
const heldOut = new Map(PEOPLE.map((p) => [p, path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)]));

let redis: RedisServer;
let dataDir: string;

before(async () => {
  if (skip) return;
  redis = await startRedis();
  const held = new Set(heldOut.values());
  dataDir = (await buildPeopleIndex((file) => held.has(file) || !PEOPLE.includes(path.basename(path.dirname(file))))).dataDir;
});

after(async () => {
  await redis?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a Discord front end defers and enqueues; a worker answers through the interaction webhook and feeds the shared leaderboard', { skip, timeout: 300_000 }, async () => {
  const emu = await DiscordEmulator.start({ heartbeatIntervalMs: 2000 });
  const services: Service[] = [];
  try {
    // One data directory for both: its SQLite file stands in for the PostgreSQL that machines share.
    const env = { DISCORD_BOT_TOKEN: emu.token, DISCORD_API_URL: emu.apiUrl, DISCORD_CDN_URL: emu.cdnUrl, LOOKALIKE_REDIS_URL: redis.url, LOOKALIKE_DATA_DIR: dataDir };
    const front = startService('front end', ['bot', 'discord'], env);
    // The worker gets no bot token: interaction webhooks need none.
    const worker = startService('worker', ['worker', '--concurrency', '1'], { LOOKALIKE_REDIS_URL: redis.url, DISCORD_API_URL: emu.apiUrl, LOOKALIKE_DATA_DIR: dataDir });
    services.push(front, worker);
    await Promise.all([front.waitForLine('discord bot ready'), worker.waitForLine('worker ready')]);

    const ann = await emu.createUser({ username: 'ann', globalName: 'Ann' });
    const guild = emu.createGuild('Scale Club');
    await emu.addMember(guild, ann);
    const file = heldOut.get('Angelina_Jolie')!;
    const ix = await emu.slashCommand(guild, ann, 'lookalike', { image: { file: { bytes: await readFile(file), filename: path.basename(file), contentType: 'image/jpeg' } } });
    const answer = await emu.answerTo(ix, 120_000);
    assert.equal(answer.via, 'edit', answer.content);
    assert.equal(answer.embeds[0]!.title, 'You look like Angelina Jolie');
    assert.equal(answer.files.length, 1, 'the reply picture is attached');
    const state = emu.interactions.get(ix.id)!;
    assert.equal(state.acknowledged, 'deferred', 'the front end deferred at once');

    const blank = path.join(scenesDir, 'faceapi_bbt__white.png');
    const none = await emu.slashCommand(guild, ann, 'lookalike', { image: { file: { bytes: await readFile(blank), filename: 'white.png', contentType: 'image/png' } } });
    const refusal = await emu.waitFor(() => emu.interactions.get(none.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 120_000, what: 'the refusal' });
    assert.ok(refusal.ephemeral && refusal.content.startsWith(ERROR_PREFIX) && /couldn't find a face/.test(refusal.content), refusal.content);
    await emu.waitFor(() => emu.interactions.get(none.id)!.original === 'deleted', { timeoutMs: 10_000, what: 'the deferred reply deleted' });

    const board = await emu.answerTo(await emu.slashCommand(guild, ann, 'leaderboard'));
    assert.match(board.content, /1\. Ann: Angelina Jolie, \d+%/);
    assert.equal(emu.interactions.get(ix.id)!.answers.length, 1, 'answered once');
    const refused = worker.lines.filter((l) => l.msg === 'request refused');
    assert.deepEqual(refused.map((l) => [l.platform, l.code, l.level]), [['discord', 'no_face', 30]]);
    assert.ok(!worker.stderr().includes(state.token), 'the interaction token never reaches a log');
  } finally {
    await Promise.all(services.map((s) => s.stop(20_000)));
    await emu.close();
  }
});
