import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationCommandOptionType, ApplicationCommandType, GatewayIntentBits, InteractionResponseType } from 'discord.js';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { ERROR_PREFIX } from '../src/bots/discord/texts.ts';
import { runDiscordBot } from '../src/bots/discord/run.ts';
import { ConfigError } from '../src/core/errors.ts';
import { openStore } from '../src/db/store.ts';
import { peopleDir, repoRoot, scenesDir, videosDir } from './support/paths.ts';
import { DiscordEmulator, type Answer, type PostedInteraction } from './support/discordEmulator.ts';
import { brokenEngine, callsAbout, countingEngine, startDiscordHarness, type DiscordHarness } from './support/discordHarness.ts';
import { assertNoSecrets } from './support/logs.ts';

// The Discord bot end to end: the real discord.js Client against the emulated gateway and REST API, and
// the real face engine on an index built from the shared photos of a few people, one photo of each held
// back to send as a selfie. The bot must name the person in it.

const PEOPLE = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons', 'Kaley_Cuoco', 'Mayim_Bialik', 'Kunal_Nayyar'];
/** The held-back photo of each person: their first file by name. */
const heldOut = new Map(PEOPLE.map((p) => [p, path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)]));
const displayName = (person: string) => person.replace(/_/g, ' ');
const selfie = (person: string) => readFile(heldOut.get(person)!);
/** The held-back photo as a Discord client uploads it: its name and declared type. */
const photo = async (person: string) => {
  const file = heldOut.get(person)!;
  return { bytes: await readFile(file), filename: path.basename(file), contentType: file.endsWith('.png') ? 'image/png' : 'image/jpeg' };
};

let engine: LookalikeEngine;
let indexDataDir: string;

// These tests need the engine and the index build job; if either is missing or broken this hook fails,
// and with it every test here: they never skip.
before(async () => {
  const [{ openEngine }, support] = await Promise.all([import('../src/core/engine.ts'), import('./support/engine.ts')]);
  const held = new Set(heldOut.values());
  const { dataDir, summary } = await support
    .buildPeopleIndex((file: string) => held.has(file) || !PEOPLE.includes(path.basename(path.dirname(file))))
    .catch((err: Error) => {
      throw new Error(`Building the test index failed (is the model converted? node bin/lookalike.js model convert-default): ${err.message}`, { cause: err });
    });
  assert.equal(summary.identities, PEOPLE.length);
  indexDataDir = dataDir;
  engine = await openEngine({ dataDir, modelsDir: support.config.modelsDir, device: 'cpu' });
});

after(async () => {
  await engine?.close();
  if (indexDataDir) rmSync(indexDataDir, { recursive: true, force: true });
});

/** The picture answer: the deferred reply edited into an embed naming the person, with the composite attached. */
function assertNames(answer: Answer, person: string, subject = 'You look'): void {
  assert.equal(answer.via, 'edit', `expected the picture, got: ${answer.content}`);
  assert.equal(answer.ephemeral, false);
  const embed = answer.embeds[0]!;
  assert.equal(embed.title, `${subject} like ${displayName(person)}`);
  assert.equal(embed.fields?.find((f) => f.name === 'Top match')?.value, displayName(person));
  assert.match(embed.fields?.find((f) => f.name === 'Similarity')?.value ?? '', /^\d{1,3}%$/);
}

const isRefusal = (answer: Answer, text: RegExp) => answer.ephemeral && answer.content.startsWith(ERROR_PREFIX) && text.test(answer.content);

describe('look-alikes: slash command, avatars, context menu', () => {
  let h: DiscordHarness;
  before(async () => {
    h = await startDiscordHarness({ engine, limits: { perUserRequests: 100 } });
  });
  after(() => h?.close());

  test('at start-up: only the Guilds intent, the commands registered globally, heartbeats acknowledged', async () => {
    const { emu } = h;
    assert.equal(emu.identifies.length, 1);
    assert.equal(emu.identifies[0]!.intents, GatewayIntentBits.Guilds, 'no message-content or member intents');
    const byName = new Map(emu.globalCommands.map((c) => [c.name, c]));
    assert.deepEqual([...byName.keys()].sort(), ['Find look-alike', 'forget', 'hide', 'leaderboard', 'lookalike', 'morph', 'show']);
    const lookalike = byName.get('lookalike')!;
    assert.equal(lookalike.type, ApplicationCommandType.ChatInput);
    assert.deepEqual(
      lookalike.options?.map((o) => [o.name, o.type]),
      [
        ['image', ApplicationCommandOptionType.Attachment],
        ['user', ApplicationCommandOptionType.User],
        ['gender', ApplicationCommandOptionType.String],
        ['face', ApplicationCommandOptionType.String],
      ],
    );
    assert.equal(byName.get('Find look-alike')!.type, ApplicationCommandType.Message);
    await emu.waitFor(() => (emu.connectedShards[0]?.heartbeats ?? 0) >= 1, { timeoutMs: 10_000, what: 'a heartbeat' });
  });

  test('/lookalike image: a selfie is deferred at once, then answered with the picture and an embed naming the person', async () => {
    const { emu } = h;
    const ann = await emu.createUser({ username: 'ann' });
    const guild = emu.createGuild('Photo Club');
    await emu.addMember(guild, ann);
    const ix = await emu.slashCommand(guild, ann, 'lookalike', { image: { file: await photo('Barack_Obama') } });
    const answer = await emu.answerTo(ix);
    assertNames(answer, 'Barack_Obama');
    const runnersUp = answer.embeds[0]!.fields?.find((f) => f.name === 'Runners-up')?.value.split('\n') ?? [];
    assert.equal(runnersUp.length, 3);
    for (const line of runnersUp) assert.match(line, /^[A-Z][a-z]+ [A-Z][a-z]+ \d{1,3}%$/);

    const calls = callsAbout(emu, ix.id);
    assert.equal(calls[0]!.route.endsWith('/callback'), true, 'the first call is the interaction callback');
    assert.equal((calls[0]!.body as { type: number }).type, InteractionResponseType.DeferredChannelMessageWithSource);
    assert.equal(calls[0]!.status, 204);
    assert.equal(calls[1]!.method, 'PATCH', 'then the deferred reply is edited');

    // The file: a JPEG composite, attached once and shown in the embed.
    assert.equal(answer.files.length, 1);
    const [file] = answer.files;
    assert.equal(file!.filename, 'lookalike.jpg');
    const picture = await sharp(file!.bytes).metadata();
    assert.equal(picture.format, 'jpeg');
    assert.ok(picture.width > 200 && picture.height > 100, `a reply picture, ${picture.width}x${picture.height}`);
    const attached = answer.message.attachments[0]!;
    assert.equal(answer.embeds[0]!.image?.url, attached.url, 'the embed shows the attached picture');
    const served = Buffer.from(await (await fetch(attached.url)).arrayBuffer());
    assert.ok(served.equals(file!.bytes), 'the CDN serves what the bot uploaded');
  });

  test('/lookalike user: uses the member’s server avatar, else their account avatar; /lookalike alone uses your own', async () => {
    const { emu } = h;
    const guild = emu.createGuild('Avatars');
    const bea = await emu.createUser({ username: 'bea', globalName: 'Bea', avatar: await selfie('Kaley_Cuoco') });
    const cal = await emu.createUser({ username: 'cal', globalName: 'Cal', avatar: await selfie('Angelina_Jolie') });
    const dev = await emu.createUser({ username: 'dev', globalName: 'Dev' });
    await emu.addMember(guild, bea);
    await emu.addMember(guild, cal, { nick: 'Cally', avatar: await selfie('Jim_Parsons') });
    await emu.addMember(guild, dev);

    assertNames(await emu.answerTo(await emu.slashCommand(guild, dev, 'lookalike', { user: { user: bea } })), 'Kaley_Cuoco', 'Bea looks');
    assertNames(await emu.answerTo(await emu.slashCommand(guild, dev, 'lookalike', { user: { user: cal } })), 'Jim_Parsons', 'Cally looks');
    assertNames(await emu.answerTo(await emu.slashCommand(guild, bea, 'lookalike')), 'Kaley_Cuoco');

    const noAvatar = await emu.answerTo(await emu.slashCommand(guild, bea, 'lookalike', { user: { user: dev } }));
    assert.ok(isRefusal(noAvatar, /Dev has no profile picture/), noAvatar.content);
    assert.equal(noAvatar.via, 'reply', 'refused before deferring');
  });

  test('Find look-alike on a message with a photo; a message without a picture is refused', async () => {
    const { emu } = h;
    const guild = emu.createGuild('Context');
    const [eve, fin] = [await emu.createUser({ username: 'eve' }), await emu.createUser({ username: 'fin' })];
    await emu.addMember(guild, eve);
    await emu.addMember(guild, fin);
    const photo = await emu.postMessage(guild, eve, { content: 'guess who', files: [{ bytes: await selfie('Mayim_Bialik'), filename: 'amy.png', contentType: 'image/png' }] });
    const ix = await emu.messageCommand(guild, fin, 'Find look-alike', photo);
    assertNames(await emu.answerTo(ix), 'Mayim_Bialik', 'This face looks');
    const text = await emu.postMessage(guild, eve, { content: 'no picture here' });
    const refused = await emu.answerTo(await emu.messageCommand(guild, fin, 'Find look-alike', text));
    assert.ok(isRefusal(refused, /no picture/), refused.content);
  });
});

describe('bad inputs get an ephemeral reply with the error prefix', () => {
  let h: DiscordHarness;
  let counted: ReturnType<typeof countingEngine>;
  let guild: ReturnType<DiscordEmulator['createGuild']>;
  let gus: Awaited<ReturnType<DiscordEmulator['createUser']>>;
  before(async () => {
    counted = countingEngine(engine);
    h = await startDiscordHarness({ engine: counted, limits: { perUserRequests: 100 } });
    guild = h.emu.createGuild('Bad Inputs');
    gus = await h.emu.createUser({ username: 'gus' });
    await h.emu.addMember(guild, gus);
  });
  after(() => h?.close());

  const send = async (file: { bytes: Buffer; filename: string; contentType?: string }) => h.emu.answerTo(await h.emu.slashCommand(guild, gus, 'lookalike', { image: { file } }));

  test('refused from what the attachment declares, before deferring and without reaching the engine', async () => {
    const before = counted.calls;
    const cases: [string, { bytes: Buffer; filename: string; contentType?: string }, RegExp][] = [
      ['a text file', { bytes: Buffer.from('not a photo\n'.repeat(20)), filename: 'notes.txt', contentType: 'text/plain' }, /isn't a photo I can read/],
      ['an SVG drawing', { bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), filename: 'a.svg', contentType: 'image/svg+xml' }, /isn't a photo I can read/],
      ['a file over 25 MB', { bytes: Buffer.alloc(25 * 1024 * 1024 + 1), filename: 'huge.jpg', contentType: 'image/jpeg' }, /over 25 MB/],
      ['a BMP, which the decoder cannot read', { bytes: Buffer.from('BM' + '\0'.repeat(60)), filename: 'old.bmp', contentType: '' }, /isn't a photo I can read/],
    ];
    for (const [what, file, text] of cases) {
      const answer = await send(file);
      assert.ok(isRefusal(answer, text), `${what}: ${answer.content}`);
      assert.equal(answer.via, 'reply', `${what}: answered at once, not deferred`);
    }
    assert.equal(counted.calls, before, 'the engine never saw them');
  });

  test('a GIF or a video is watched by the real engine, not turned away as "not yet"', async () => {
    const videosBefore = counted.videoCalls;
    const gif = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c33' } }).gif().toBuffer();
    const ix = await h.emu.slashCommand(guild, gus, 'lookalike', { image: { file: { bytes: gif, filename: 'wave.gif', contentType: 'image/gif' } } });
    const refusal = await h.emu.waitFor(() => h.emu.interactions.get(ix.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 30_000, what: 'the answer' });
    assert.ok(isRefusal(refusal, /couldn't find a face/), refusal.content);
    assert.equal(counted.videoCalls, videosBefore + 1, 'the engine watched it');
    assert.ok(
      callsAbout(h.emu, ix.id).some((c) => c.method === 'PATCH' && (c.body as { content?: string } | undefined)?.content === 'Watching...'),
      'the deferred reply said "Watching..."',
    );
  });

  test('refused after looking: no face, and bytes that are not an image; the "thinking…" reply is removed', async () => {
    const cases: [string, { bytes: Buffer; filename: string; contentType: string }, RegExp][] = [
      ['a photo without a face', { bytes: await readFile(path.join(scenesDir, 'faceapi_bbt__white.png')), filename: 'wall.png', contentType: 'image/png' }, /couldn't find a face/],
      ['garbage labelled JPEG', { bytes: Buffer.from('definitely not a jpeg\n'.repeat(50)), filename: 'selfie.jpg', contentType: 'image/jpeg' }, /isn't a photo I can read|damaged/],
    ];
    for (const [what, file, text] of cases) {
      const ix = await h.emu.slashCommand(guild, gus, 'lookalike', { image: { file } });
      const answer = await h.emu.answerTo(ix);
      assert.equal(answer.via, 'followup', what);
      assert.ok(isRefusal(answer, text), `${what}: ${answer.content}`);
      await h.emu.waitFor(() => h.emu.interactions.get(ix.id)!.original === 'deleted', { timeoutMs: 10_000, what: `${what}: the deferred reply deleted` });
    }
  });

  test('an unexpected failure: an ephemeral apology with an error id, the placeholder removed', async () => {
    const broken = await startDiscordHarness({ engine: brokenEngine });
    try {
      const g = broken.emu.createGuild('Crash');
      const hal = await broken.emu.createUser({ username: 'hal' });
      await broken.emu.addMember(g, hal);
      const ix = await broken.emu.slashCommand(g, hal, 'lookalike', { image: { file: await photo('Kunal_Nayyar') } });
      const answer = await broken.emu.answerTo(ix);
      assert.ok(isRefusal(answer, /Something went wrong on my side, sorry\. If it keeps happening, mention error [0-9a-f]{8}\./), answer.content);
      await broken.emu.waitFor(() => broken.emu.interactions.get(ix.id)!.original === 'deleted', { timeoutMs: 10_000, what: 'the deferred reply deleted' });
    } finally {
      await broken.close();
    }
  });
});

describe('leaderboards per server', () => {
  test('ranked by each member’s best result; /hide, /show and /forget change it; another server is separate', async () => {
    const h = await startDiscordHarness({ engine, limits: { perUserRequests: 100 } });
    try {
      const { emu } = h;
      const guildA = emu.createGuild('Server A');
      const guildB = emu.createGuild('Server B');
      const fay = await emu.createUser({ username: 'fay', globalName: 'Fay' });
      const gil = await emu.createUser({ username: 'gil', globalName: 'Gil' });
      const hal = await emu.createUser({ username: 'hal_h' });
      for (const u of [fay, gil, hal]) await emu.addMember(guildA, u, u === gil ? { nick: 'Gil G' } : {});
      await emu.addMember(guildB, fay);

      const shown = new Map([
        [fay.id, 'Fay'],
        [gil.id, 'Gil G'],
        [hal.id, 'hal\\_h'],
      ]);
      const expected: { userId: string; celebrity: string; similarity: number }[] = [];
      for (const [user, person] of [
        [fay, 'Mayim_Bialik'],
        [gil, 'Kunal_Nayyar'],
        [hal, 'Jim_Parsons'],
      ] as const) {
        const file = await photo(person);
        assertNames(await emu.answerTo(await emu.slashCommand(guildA, user, 'lookalike', { image: { file } })), person);
        // What the engine says about the same bytes the bot downloaded.
        const matched = await engine.match(file.bytes, { composite: false });
        assert.ok(matched.ok);
        const best = matched.value.faces.map((f) => f.matches[0]!).sort((a, b) => b.similarity - a.similarity)[0]!;
        expected.push({ userId: user.id, celebrity: best.name, similarity: best.similarity });
      }
      assertNames(await emu.answerTo(await emu.slashCommand(guildB, fay, 'lookalike', { image: { file: await photo('Barack_Obama') } })), 'Barack_Obama');

      const rows = (list: typeof expected) =>
        [...list].sort((a, b) => b.similarity - a.similarity).map((e, i) => `${i + 1}. ${shown.get(e.userId)}: ${e.celebrity}, ${Math.round(e.similarity)}%`);
      const board = async (guild: typeof guildA, who = fay) => {
        const answer = await emu.answerTo(await emu.slashCommand(guild, who, 'leaderboard'));
        assert.equal(answer.ephemeral, false, 'the leaderboard is for everyone');
        const [head, ...lines] = answer.content.split('\n\n')[0]!.split('\n');
        assert.equal(head, `**Look-alike leaderboard of ${guild.name}**`);
        return lines;
      };
      const ephemeral = async (guild: typeof guildA, who: typeof fay, command: string) => {
        const answer = await emu.answerTo(await emu.slashCommand(guild, who, command));
        assert.ok(answer.ephemeral && !answer.content.startsWith(ERROR_PREFIX), answer.content);
        return answer.content;
      };

      assert.deepEqual(await board(guildA), rows(expected));
      const boardB = await board(guildB);
      assert.equal(boardB.length, 1);
      assert.match(boardB[0]!, /^1\. Fay: Barack Obama, \d+%$/);

      assert.match(await ephemeral(guildA, gil, 'hide'), /no longer appear on any leaderboard/);
      assert.deepEqual(await board(guildA), rows(expected.filter((e) => e.userId !== gil.id)));
      assert.match(await ephemeral(guildA, hal, 'forget'), /I deleted your result/);
      assert.deepEqual(await board(guildA), rows(expected.filter((e) => e.userId === fay.id)));
      assert.match(await ephemeral(guildA, gil, 'show'), /back on the leaderboards/);
      assert.deepEqual(await board(guildA), rows(expected.filter((e) => e.userId !== hal.id)));
      assert.deepEqual(await board(guildB), boardB, 'the other server is unaffected');

      const empty = emu.createGuild('Server C');
      await emu.addMember(empty, gil);
      const answer = await emu.answerTo(await emu.slashCommand(empty, gil, 'leaderboard'));
      assert.match(answer.content, /Nobody here is on it yet/);
    } finally {
      await h.close();
    }
  });
});

describe('what Discord refuses', () => {
  test('an interaction acknowledged too late is dropped, and its queue place given back', async () => {
    const h = await startDiscordHarness({ engine, limits: { concurrency: 1, queueSize: 0 } });
    try {
      const { emu } = h;
      const guild = emu.createGuild('Slow');
      const kim = await emu.createUser({ username: 'kim' });
      await emu.addMember(guild, kim);
      emu.interactionAckMs = -1;
      const late = await emu.slashCommand(guild, kim, 'lookalike', { image: { file: await photo('Kaley_Cuoco') } });
      await emu.waitFor(() => callsAbout(emu, late.id).find((c) => c.status === 404), { timeoutMs: 10_000, what: 'the refused callback' });
      assert.equal((callsAbout(emu, late.id)[0]!.response as { code: number }).code, 10062, 'Unknown interaction');
      emu.interactionAckMs = 3000;
      // With one place in all, a leaked reservation would make this one "busy".
      assertNames(await emu.answerTo(await emu.slashCommand(guild, kim, 'lookalike', { image: { file: await photo('Kaley_Cuoco') } })), 'Kaley_Cuoco');
      assert.equal(emu.interactions.get(late.id)!.answers.length, 0);
    } finally {
      await h.close();
    }
  });

  test('a token Discord refuses stops the start with a message naming DISCORD_BOT_TOKEN', async () => {
    const emu = await DiscordEmulator.start();
    try {
      const store = await openStore({ dataDir: indexDataDir });
      try {
        await assert.rejects(
          runDiscordBot({ token: 'aaaa.bbbb.cccc', apiUrl: emu.apiUrl, limits: {} }, { engine, store }),
          (err: Error) => err instanceof ConfigError && /DISCORD_BOT_TOKEN was refused/.test(err.message),
        );
      } finally {
        await store.close();
      }
      assert.equal(emu.identifies.length, 0, 'it never reached the gateway');
    } finally {
      await emu.close();
    }
  });
});

describe('load', () => {
  test('20 interactions from 5 users at once: every one answered, rate-limit and busy replies where due', async () => {
    const limits = { perUserRequests: 3, perUserWindowMs: 60_000, concurrency: 2, queueSize: 8, timeoutMs: 120_000 };
    const h = await startDiscordHarness({ engine, limits });
    try {
      const { emu } = h;
      const guild = emu.createGuild('Busy Server');
      const people = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons', 'Kaley_Cuoco', 'Mayim_Bialik'];
      const senders = await Promise.all(
        people.map(async (person, i) => {
          const user = await emu.createUser({ username: `load${i}` });
          await emu.addMember(guild, user);
          return { person, user, file: await photo(person) };
        }),
      );
      // One rate-limit answer from Discord on the way: discord.js must wait it out, not drop the picture.
      emu.injectError({ method: 'PATCH', route: /\/messages\/@original$/, status: 429, retryAfterSec: 1 });
      const sent: { person: string; userId: string; ix: PostedInteraction }[] = [];
      for (const { person, user, file } of senders) {
        for (let i = 0; i < 4; i++) sent.push({ person, userId: user.id, ix: await emu.slashCommand(guild, user, 'lookalike', { image: { file } }) });
      }
      const answers = await Promise.all(sent.map(async (s) => ({ ...s, answer: await emu.answerTo(s.ix, 120_000) })));
      await h.running.bot.drain();

      const kind = (a: Answer) =>
        a.via === 'edit' && a.files.length === 1 ? 'picture' : isRefusal(a, /Easy there/) ? 'rate_limited' : isRefusal(a, /busy/) ? 'busy' : `other: ${a.content}`;
      const kinds = answers.map((a) => kind(a.answer));
      const count = (k: string) => kinds.filter((x) => x === k).length;
      assert.equal(count('picture') + count('rate_limited') + count('busy'), 20, kinds.join(', '));
      for (const { ix } of sent) assert.equal(emu.interactions.get(ix.id)!.answers.length, 1, 'exactly one answer per interaction');
      assert.ok(count('rate_limited') >= 1, kinds.join(', '));
      assert.ok(count('busy') >= 1, kinds.join(', '));
      assert.ok(count('picture') >= limits.concurrency, kinds.join(', '));
      for (const { user, person } of senders) {
        const mine = answers.filter((a) => a.userId === user.id);
        const pictures = mine.filter((a) => kind(a.answer) === 'picture');
        assert.ok(pictures.length <= 3, 'no user gets more than the rate limit');
        for (const a of pictures) assertNames(a.answer, person);
      }
      assert.ok(emu.calls.some((c) => c.status === 429), 'the injected 429 happened');
      assert.ok(
        emu.calls.every((c) => !c.route.endsWith('/callback') || c.status === 204),
        'every interaction was acknowledged within Discord’s three seconds',
      );
    } finally {
      await h.close();
    }
  });
});

describe('the bot as a user runs it: `lookalike bot discord`', () => {
  const cli = path.join(repoRoot, 'bin', 'lookalike.js');

  interface CliRun {
    child: ChildProcess;
    stderr: () => string;
    exited: Promise<number | null>;
    /** The exit code, or a failure if the process is still running after timeoutMs. */
    exitCode(timeoutMs?: number): Promise<number | null>;
    /** Kills the process and anything it started (shard processes), if still running. */
    kill(): void;
  }

  function startCli(args: string[], env: Record<string, string>): CliRun {
    assert.ok(existsSync(path.join(repoRoot, 'dist', 'cli', 'main.js')), 'the CLI is not built: run `npm run build` (npm test does it first)');
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that a failed test can take the shard processes down with it.
      detached: true,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return {
      child,
      stderr: () => stderr,
      exited,
      exitCode: (timeoutMs = 30_000) =>
        Promise.race([
          exited,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running ${timeoutMs} ms later:\n${stderr}`)), timeoutMs).unref()),
        ]),
      kill: () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      },
    };
  }

  /**
   * `lookalike bot discord` configured for one server of the emulator; `registered` settles once it has
   * registered its commands there (and fails if it exits first).
   */
  function startGuildBot(emu: DiscordEmulator, guildId: string, env: Record<string, string> = {}): CliRun & { registered: Promise<unknown> } {
    const run = startCli(['bot', 'discord'], {
      DISCORD_BOT_TOKEN: emu.token,
      DISCORD_API_URL: emu.apiUrl,
      DISCORD_GUILD_ID: guildId,
      LOOKALIKE_DATA_DIR: indexDataDir,
      LOOKALIKE_DEVICE: 'cpu',
      ...env,
    });
    const registered = Promise.race([
      emu.waitFor(() => (emu.guildCommands.get(guildId)?.length ?? 0) > 0, { timeoutMs: 60_000, what: 'guild commands' }),
      run.exited.then((code) => assert.fail(`the bot exited (${code}) before registering its commands:\n${run.stderr()}`)),
    ]);
    return { ...run, registered };
  }

  test('without DISCORD_BOT_TOKEN it stops at once with a message naming the variable; `lookalike bot` names both', async () => {
    const discord = startCli(['bot', 'discord'], { LOOKALIKE_DATA_DIR: indexDataDir });
    assert.equal(await discord.exitCode(), 2, discord.stderr());
    assert.match(discord.stderr(), /DISCORD_BOT_TOKEN is not set/);
    const all = startCli(['bot'], { LOOKALIKE_DATA_DIR: indexDataDir });
    assert.equal(await all.exitCode(), 2, all.stderr());
    assert.match(all.stderr(), /TELEGRAM_BOT_TOKEN.*DISCORD_BOT_TOKEN/);
  });

  test('configured only by environment variables: guild commands, a selfie answered, a clean stop on SIGTERM', async () => {
    const emu = await DiscordEmulator.start();
    const guild = emu.createGuild('Dev Server');
    const ivy = await emu.createUser({ username: 'ivy' });
    await emu.addMember(guild, ivy);
    const run = startGuildBot(emu, guild.id);
    try {
      await run.registered;
      assert.equal(emu.globalCommands.length, 0, 'DISCORD_GUILD_ID: nothing registered globally');
      const answer = await emu.answerTo(await emu.slashCommand(guild, ivy, 'lookalike', { image: { file: await photo('Angelina_Jolie') } }), 60_000);
      assertNames(answer, 'Angelina_Jolie');
      run.child.kill('SIGTERM');
      assert.equal(await run.exitCode(), 0, run.stderr());
    } finally {
      run.kill();
      await emu.close();
    }
  });

  test('`lookalike bot` with both tokens runs Telegram and Discord in one process', async () => {
    const { TelegramEmulator } = await import('./support/telegramEmulator.ts');
    const { answerTo } = await import('./support/telegramHarness.ts');
    const [discord, telegram] = [await DiscordEmulator.start(), await TelegramEmulator.start()];
    const guild = discord.createGuild('Both');
    const lou = await discord.createUser({ username: 'lou' });
    await discord.addMember(guild, lou);
    const run = startCli(['bot'], {
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      LOOKALIKE_DATA_DIR: indexDataDir,
      LOOKALIKE_DEVICE: 'cpu',
    });
    try {
      await Promise.race([
        Promise.all([
          discord.waitFor(() => discord.globalCommands.length > 0, { timeoutMs: 60_000, what: 'discord commands' }),
          telegram.waitFor((c) => c.method === 'deleteWebhook', { timeoutMs: 60_000 }),
        ]),
        run.exited.then((code) => assert.fail(`the bots exited (${code}) before starting:\n${run.stderr()}`)),
      ]);
      const ann = telegram.createUser({ firstName: 'Ann' });
      const [onDiscord, onTelegram] = await Promise.all([
        (async () => discord.answerTo(await discord.slashCommand(guild, lou, 'lookalike', { image: { file: await photo('Barack_Obama') } }), 60_000))(),
        (async () => answerTo(telegram, await telegram.sendPhoto(ann, telegram.privateChat(ann), await selfie('Mayim_Bialik')), 60_000))(),
      ]);
      assertNames(onDiscord, 'Barack_Obama');
      assert.equal(onTelegram.method, 'sendPhoto');
      assert.match(onTelegram.text ?? '', /^You look like Mayim Bialik/);
      run.child.kill('SIGTERM');
      assert.equal(await run.exitCode(), 0, run.stderr());
    } finally {
      run.kill();
      await Promise.all([discord.close(), telegram.close()]);
    }
  });

  test('DISCORD_SHARDS=2: a ShardingManager with one process per shard, each answering its own servers', async () => {
    const emu = await DiscordEmulator.start();
    const guilds = [emu.createGuild('Shard Zero', { shard: [0, 2] }), emu.createGuild('Shard One', { shard: [1, 2] })];
    const jo = await emu.createUser({ username: 'jo' });
    for (const g of guilds) await emu.addMember(g, jo);
    const run = startCli(['bot', 'discord'], {
      DISCORD_BOT_TOKEN: emu.token,
      DISCORD_API_URL: emu.apiUrl,
      DISCORD_SHARDS: '2',
      LOOKALIKE_DATA_DIR: indexDataDir,
      LOOKALIKE_DEVICE: 'cpu',
    });
    try {
      await Promise.race([
        emu.waitFor(() => emu.connectedShards.length === 2 && emu.globalCommands.length > 0, { timeoutMs: 120_000, what: 'two shards and the commands' }),
        run.exited.then((code) => assert.fail(`the bot exited (${code}) before both shards were up:\n${run.stderr()}`)),
      ]);
      assert.deepEqual(emu.identifies.map((i) => i.shard).sort(), [
        [0, 2],
        [1, 2],
      ]);
      const [zero, one] = await Promise.all(guilds.map(async (g, i) => emu.answerTo(await emu.slashCommand(g, jo, 'lookalike', { image: { file: await photo(i === 0 ? 'Kaley_Cuoco' : 'Jim_Parsons') } }), 60_000)));
      assertNames(zero!, 'Kaley_Cuoco');
      assertNames(one!, 'Jim_Parsons');
      run.child.kill('SIGTERM');
      assert.equal(await run.exitCode(), 0, run.stderr());
      await emu.waitFor(() => emu.connectedShards.length === 0, { timeoutMs: 10_000, what: 'both shards disconnected' });
    } finally {
      run.kill();
      await emu.close();
    }
  });

  test('a reply Discord refuses is logged by its method, status and error id: no picture bytes, no token, no interaction token', async () => {
    const emu = await DiscordEmulator.start();
    const guild = emu.createGuild('Privacy');
    const max = await emu.createUser({ username: 'max' });
    await emu.addMember(guild, max);
    const run = startGuildBot(emu, guild.id, { LOG_LEVEL: 'debug' });
    try {
      await run.registered;
      // The edit that carries the reply picture fails.
      emu.injectError({ method: 'PATCH', route: /\/messages\/@original$/, status: 400 });
      const ix = await emu.slashCommand(guild, max, 'lookalike', { image: { file: await photo('Angelina_Jolie') } });
      const apology = await emu.waitFor(() => emu.interactions.get(ix.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 60_000, what: 'the apology' });
      const errorId = /mention error ([0-9a-f]+)/.exec(apology.content)?.[1];
      assert.ok(errorId, `an apology with an error id: ${apology.content}`);
      run.child.kill('SIGTERM');
      assert.equal(await run.exitCode(), 0, run.stderr());
      const log = run.stderr();
      assertNoSecrets(log, [emu.token, ix.token]);
      const line = log.split('\n').find((l) => l.includes(errorId));
      assert.ok(line, `the error id is in the log:\n${log.slice(-3000)}`);
      const entry = JSON.parse(line) as { err?: { method?: string; status?: number; path?: string } };
      assert.equal(entry.err?.method, 'PATCH');
      assert.equal(entry.err?.status, 400);
      assert.match(entry.err?.path ?? '', /\/webhooks\/\d+\/\[token\]\/messages\/(@|%40)original$/);
    } finally {
      run.kill();
      await emu.close();
    }
  });

  test('SIGTERM when the gateway is already gone: the process still ends within seconds', async () => {
    const emu = await DiscordEmulator.start();
    const guild = emu.createGuild('Gone');
    const run = startGuildBot(emu, guild.id);
    try {
      await run.registered;
      // Gateway and REST gone at once (a network cut, Discord down).
      await emu.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
      run.child.kill('SIGTERM');
      assert.equal(await run.exitCode(15_000), 0, run.stderr());
    } finally {
      run.kill();
    }
  });
});
