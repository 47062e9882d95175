import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine } from '../src/core/engine.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { buildPeopleIndex, config } from './support/engine.ts';
import { videosDir } from './support/paths.ts';
import { answerTo, withHarness } from './support/telegramHarness.ts';

// Video notes and videos through the real bot, the emulator and the real engine: "Watching...", edits
// with the best match so far, then the reply picture.

const PEOPLE = new Set(['Lin_Manuel_Miranda', 'Alex_Lacamoire', 'Barack_Obama', 'Kevin_Sussman', 'Jim_Parsons', 'Kaley_Cuoco']);
const work = mkdtempSync(path.join(tmpdir(), 'lookalike-tg-video-'));
let engine: LookalikeEngine;
let dataDir: string;
let videoNote: Buffer;

before(async () => {
  dataDir = (await buildPeopleIndex((file) => !PEOPLE.has(path.basename(path.dirname(file))))).dataDir;
  engine = await openEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  // A round video note is square: the part of the clip where Lin-Manuel is on stage, cropped.
  const note = path.join(work, 'note.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', '3', '-t', '4', '-i', path.join(videosDir, 'hamilton_clip.mp4'),
    '-vf', 'crop=360:360:80:0', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', note]);
  videoNote = readFileSync(note);
});

after(async () => {
  await engine?.close();
  rmSync(work, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('video notes and videos on Telegram', () => {
  test('a video note gets "Watching...", progress edits, then the reply picture naming Lin-Manuel Miranda', () =>
    withHarness({ engine }, async ({ emu }) => {
      const user = emu.createUser({ firstName: 'Ana' });
      const chat = emu.privateChat(user);
      const sent = emu.sendVideoNote(user, chat, videoNote, { duration: 4, length: 360 });
      const watching = await answerTo(emu, sent);
      assert.equal(watching.method, 'sendMessage');
      assert.equal(watching.text, 'Watching...');
      const watchingId = (watching.result as { message_id: number }).message_id;
      const photo = await emu.waitFor((c) => c.ok && c.method === 'sendPhoto' && c.replyToMessageId === sent.message_id, { timeoutMs: 60_000 });
      assert.ok(photo.media && photo.media[0] === 0xff && photo.media[1] === 0xd8, 'the reply picture is a JPEG');
      // The main track comes first, whether alone or with other faces seen in the video.
      assert.match(photo.text ?? '', /^(You look like|\d+ faces, largest first:\n1\.) Lin Manuel Miranda/);
      const edits = emu.calls.filter((c) => c.ok && c.method === 'editMessageText' && (c.params.message_id === watchingId || Number(c.params.message_id) === watchingId));
      assert.ok(edits.some((e) => /^Watching\.\.\. \d+ frames? watched/.test(e.text ?? '')), 'a progress edit while watching');
      assert.match(edits.at(-1)!.text ?? '', /^Done: \d+ frames watched\. You look most like Lin Manuel Miranda/);
    }));

  test('in a group: /lookalike in reply to a video note, a 429 on a progress edit waited out, the result on the leaderboard', () =>
    withHarness({ engine }, async (h) => {
      const { emu } = h;
      const user = emu.createUser({ firstName: 'Cy' });
      const group = emu.createGroup('Stage door');
      const note = emu.sendVideoNote(user, group, videoNote, { duration: 4, length: 360 });
      emu.injectError({ method: 'editMessageText', errorCode: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 });
      const ask = emu.sendText(user, group, '/lookalike', { replyTo: note });
      assert.equal((await answerTo(emu, ask)).text, 'Watching...');
      await emu.waitFor((c) => c.ok && c.method === 'sendPhoto' && c.replyToMessageId === ask.message_id, { timeoutMs: 60_000 });
      const edits = emu.calls.filter((c) => c.method === 'editMessageText');
      assert.equal(edits[0]?.errorCode, 429, 'the first edit met the flood limit');
      assert.equal(edits[1]?.ok, true, 'and was sent again');
      assert.equal(edits[1]?.text, edits[0]?.params.text, 'the same text, after waiting');
      await h.running.bot.drain();
      const board = await h.store.leaderboard('telegram', String(group.id));
      assert.deepEqual(board.map((e) => e.celebrity), ['Lin Manuel Miranda']);
    }));

  test('"Watching..." that cannot be sent (bot blocked, muted, Telegram down) gives its place back: later requests are answered', () =>
    withHarness({ engine, limits: { concurrency: 1, queueSize: 0, perUserRequests: 100 } }, async ({ emu }) => {
      const failures = 3;
      emu.injectError({ method: 'sendMessage', errorCode: 403, description: 'Forbidden: bot was blocked by the user', times: failures });
      const dee = emu.createUser({ firstName: 'Dee' });
      for (let i = 0; i < failures; i++) {
        const since = emu.mark();
        emu.sendVideoNote(dee, emu.privateChat(dee), videoNote, { duration: 4, length: 360 });
        await emu.waitFor((c) => c.method === 'sendMessage' && c.errorCode === 403, { since, timeoutMs: 30_000 });
      }
      // One place in all: a place kept by any of those requests would make this one "busy".
      const eli = emu.createUser({ firstName: 'Eli' });
      const sent = emu.sendVideoNote(eli, emu.privateChat(eli), videoNote, { duration: 4, length: 360 });
      assert.equal((await answerTo(emu, sent)).text, 'Watching...');
      const photo = await emu.waitFor((c) => c.ok && c.method === 'sendPhoto' && c.replyToMessageId === sent.message_id, { timeoutMs: 60_000 });
      assert.match(photo.text ?? '', /Lin Manuel Miranda/);
    }));

  test('a video over a minute, or over the download limit, is refused politely without watching', () =>
    withHarness({ engine, maxFileBytes: 100_000 }, async ({ emu }) => {
      const user = emu.createUser({ firstName: 'Ben' });
      const chat = emu.privateChat(user);
      const long = emu.sendVideo(user, chat, videoNote.subarray(0, 1000), { duration: 75 });
      assert.match((await answerTo(emu, long)).text ?? '', /too long.*a minute or less/);
      const big = emu.sendVideo(user, chat, readFileSync(path.join(videosDir, 'hamilton_clip.mp4')), { duration: 10 });
      assert.match((await answerTo(emu, big)).text ?? '', /over 0\.1 MB|over 97\.7 KB|over .* MB/);
      assert.equal(emu.calls.filter((c) => c.method === 'editMessageText').length, 0);
    }));
});
