import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { buildGenderedGallery, displayName, faceRow, MEN, selfieOf, WOMEN, type GenderedGallery } from './support/genderedGallery.ts';
import { redisSkipReason, startRedis, type RedisServer } from './support/redis.ts';
import { startService, type Service } from './support/services.ts';
import { TelegramEmulator } from './support/telegramEmulator.ts';
import { DiscordEmulator } from './support/discordEmulator.ts';
import { openStore } from '../src/db/store.ts';
import path from 'node:path';
import { answerTo } from './support/telegramHarness.ts';

// Issue 13's per-request options through the queue: a Telegram front end (no engine) and a
// `lookalike worker`, each its own process, sharing the data directory's SQLite file as machines share
// PostgreSQL. The user's language travels in the job, the gender setting is read by the worker from
// the shared store, the face asked for travels in the job, and /morph is made and sent by the worker.

const skip = redisSkipReason();
let redis: RedisServer;
let g: GenderedGallery;

before(async () => {
  if (skip) return;
  redis = await startRedis();
  g = await buildGenderedGallery();
});

after(async () => {
  await redis?.stop();
  await g?.close();
});

const women = new Set(WOMEN.map(displayName));
const men = new Set(MEN.map(displayName));
const spanishNames = (caption: string) => {
  const top = /^Te pareces a (.+?) \(/.exec(caption)?.[1];
  const rest = /^También: (.+)$/m.exec(caption)?.[1]?.split(', ').map((s) => s.replace(/ \d+%$/, '')) ?? [];
  return [top, ...rest].filter((n): n is string => Boolean(n));
};

test('through the queue: a Spanish user who compares with women gets a Spanish caption naming only women; a face of a group photo; /morph from the worker', { skip, timeout: 600_000 }, async () => {
  const emu = await TelegramEmulator.start();
  const services: Service[] = [];
  try {
    const env = { TELEGRAM_BOT_TOKEN: emu.token, TELEGRAM_API_ROOT: emu.apiRoot, LOOKALIKE_REDIS_URL: redis.url, LOOKALIKE_DATA_DIR: g.dataDir };
    const front = startService('front end', ['bot', 'telegram'], env);
    const worker = startService('worker', ['worker', '--concurrency', '1'], env);
    services.push(front, worker);
    await Promise.all([front.waitForLine('telegram bot polling', { timeoutMs: 120_000 }), worker.waitForLine('worker ready', { timeoutMs: 120_000 })]);

    // The setting is made on the front end (its inline keyboard, in Spanish) and stored.
    const ana = emu.createUser({ firstName: 'Ana', languageCode: 'es' });
    const chat = emu.privateChat(ana);
    const menu = await answerTo(emu, emu.sendText(ana, chat, '/settings'), 60_000);
    const since = emu.mark();
    const press = emu.pressButton(ana, emu.message(chat.id, (menu.result as { message_id: number }).message_id)!, 'Mujeres');
    await emu.waitFor((c) => c.ok && c.method === 'answerCallbackQuery' && c.params.callback_query_id === press.id, { since, timeoutMs: 60_000 });

    // The match is made and sent by the worker: the front end has no engine.
    const sent = await emu.sendPhoto(ana, chat, await readFile(selfieOf('Barack_Obama')));
    const answer = await answerTo(emu, sent, 180_000);
    assert.equal(answer.method, 'sendPhoto', answer.text);
    assert.match(answer.text!, /^Te pareces a .+ \(\d+% de parecido\)\./, answer.text);
    const names = spanishNames(answer.text!);
    assert.equal(names.length, 4, answer.text);
    assert.ok(names.every((n) => women.has(n)), `women only: ${names.join(', ')}`);
    assert.ok(
      worker.lines.some((l) => l.msg === 'inference session ready'),
      'the worker ran the engine',
    );
    assert.ok(!front.lines.some((l) => l.msg === 'inference session ready'), 'the front end loaded no model');

    // "/lookalike 7" on a group photo: the face choice travels in the job.
    const row = ['Barack_Obama', 'Kaley_Cuoco', 'Jim_Parsons', 'Mayim_Bialik', 'Kunal_Nayyar', 'Melissa_Rauch', 'Johnny_Galecki', 'Angelina_Jolie'];
    const zoe = emu.createUser({ firstName: 'Zoe' });
    const group = emu.createGroup('Queue class');
    const photo = await emu.sendPhoto(zoe, group, await faceRow(row.map(selfieOf)), { caption: '/lookalike 7' });
    const seventh = await answerTo(emu, photo, 180_000);
    assert.equal(seventh.method, 'sendPhoto', seventh.text);
    assert.match(seventh.text!, new RegExp(`^Face 7 of 8, counted from the left:\\n7\\. ${displayName(row[6]!)} \\d+%`));

    // /morph: made on the worker, sent once as an MP4 animation.
    const lea = emu.createUser({ firstName: 'Lea' });
    const captioned = await emu.sendPhoto(lea, emu.privateChat(lea), await readFile(selfieOf('Kaley_Cuoco')), { caption: '/morph' });
    const morph = await answerTo(emu, captioned, 180_000);
    assert.equal(morph.method, 'sendAnimation', morph.text);
    assert.match(morph.text!, /^You → Kaley Cuoco \(\d+% similar\)$/);
    assert.equal(morph.media!.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
    const animations = emu.calls.filter((c) => c.ok && c.method === 'sendAnimation' && c.replyToMessageId === captioned.message_id);
    assert.equal(animations.length, 1, 'answered once');
  } finally {
    await Promise.all(services.map((s) => s.stop(20_000)));
    await emu.close();
  }
});

test('through the queue on Discord: an es-ES client in a DM with gender: male gets a Spanish embed naming only men, from the worker; the option is stored', { skip, timeout: 600_000 }, async () => {
  await redis.client().flushall();
  const emu = await DiscordEmulator.start({ heartbeatIntervalMs: 2000 });
  const services: Service[] = [];
  try {
    const front = startService('front end', ['bot', 'discord'], {
      DISCORD_BOT_TOKEN: emu.token,
      DISCORD_API_URL: emu.apiUrl,
      DISCORD_CDN_URL: emu.cdnUrl,
      LOOKALIKE_REDIS_URL: redis.url,
      LOOKALIKE_DATA_DIR: g.dataDir,
    });
    const worker = startService('worker', ['worker', '--concurrency', '1'], { LOOKALIKE_REDIS_URL: redis.url, DISCORD_API_URL: emu.apiUrl, LOOKALIKE_DATA_DIR: g.dataDir });
    services.push(front, worker);
    await Promise.all([front.waitForLine('discord bot ready', { timeoutMs: 120_000 }), worker.waitForLine('worker ready', { timeoutMs: 120_000 })]);

    const eva = await emu.createUser({ username: 'eva' });
    const guild = emu.createGuild('Unused');
    const p = selfieOf('Kaley_Cuoco');
    const image = { file: { bytes: await readFile(p), filename: path.basename(p), contentType: p.endsWith('.png') ? 'image/png' : 'image/jpeg' } };
    const ix = await emu.slashCommand(guild, eva, 'lookalike', { image, gender: { value: 'male' } }, { dm: true, locale: 'es-ES' });
    const answer = await emu.answerTo(ix, 180_000);
    assert.equal(emu.interactions.get(ix.id)!.acknowledged, 'deferred', 'the front end deferred');
    assert.match(answer.embeds[0]!.title ?? '', /^Te pareces a /, JSON.stringify(answer.embeds[0]));
    const fields = answer.embeds[0]!.fields ?? [];
    const names = fields.flatMap((f) => f.value.split('\n').map((l) => l.replace(/ \d+%$/, ''))).filter((n) => men.has(n) || women.has(n));
    assert.ok(names.length >= 4, JSON.stringify(fields));
    assert.ok(names.every((n) => men.has(n)), `men only: ${names.join(', ')}`);
    assert.equal(emu.interactions.get(ix.id)!.answers.length, 1, 'answered once');
    const store = await openStore({ dataDir: g.dataDir });
    try {
      assert.equal(await store.compareWith('discord', eva.id), 'male', 'the worker stored the option as the setting');
    } finally {
      await store.close();
    }
  } finally {
    await Promise.all(services.map((s) => s.stop(20_000)));
    await emu.close();
  }
});
