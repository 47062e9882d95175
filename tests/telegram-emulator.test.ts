import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { fail } from '../src/core/result.ts';
import { TELEGRAM_COMMANDS, runTelegramBot, telegramSettingsFromEnv } from '../src/bots/telegram/run.ts';
import { TELEGRAM_DOWNLOAD_LIMIT_BYTES } from '../src/bots/telegram/bot.ts';
import { openStore } from '../src/db/store.ts';
import { freePort } from './support/localServer.ts';
import { peopleDir } from './support/paths.ts';
import { TelegramEmulator, type Message } from './support/telegramEmulator.ts';
import { answerTo, answersTo, startHarness, unreachableEngine, withHarness } from './support/telegramHarness.ts';

// The Bot API emulator itself, spoken to with a raw HTTP client, then the real telegraf bot against it
// for everything that needs no face engine: help, leaderboards from stored results, hide/show/forget,
// inputs refused before matching, flood-limit retries, admission limits, webhook mode, configuration.

const obamaPhoto = path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!);
const MB = 1024 * 1024;

/** Bot API answers are plain JSON; tests look into them freely. */
async function readJson(res: Response): Promise<any> {
  return res.json();
}

async function api(emu: TelegramEmulator, method: string, body?: unknown, init: RequestInit = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${emu.apiRoot}/bot${emu.token}/${method}`, {
    method: 'POST',
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    ...init,
  });
  return { status: res.status, json: await res.json() };
}

describe('the Bot API emulator, raw', () => {
  let emu: TelegramEmulator;
  before(async () => {
    emu = await TelegramEmulator.start({ botUsername: 'raw_test_bot' });
  });
  after(() => emu.close());

  test('getMe in every encoding; wrong token 401; unknown method 404', async () => {
    const viaGet = await readJson(await fetch(`${emu.apiRoot}/bot${emu.token}/getMe`));
    assert.equal(viaGet.ok, true);
    assert.equal(viaGet.result.username, 'raw_test_bot');
    assert.equal(viaGet.result.is_bot, true);
    const form = await fetch(`${emu.apiRoot}/bot${emu.token}/getme`, { method: 'POST', body: new URLSearchParams({}) });
    assert.equal((await readJson(form)).result.id, emu.bot.id);
    const wrong = await fetch(`${emu.apiRoot}/bot123:nope/getMe`);
    assert.equal(wrong.status, 401);
    assert.deepEqual(await readJson(wrong), { ok: false, error_code: 401, description: 'Unauthorized' });
    const unknown = await api(emu, 'sendTelepathy', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.description, 'Not Found');
  });

  test('long polling waits for updates, sets command and mention entities, and offsets confirm', async () => {
    const ann = emu.createUser({ firstName: 'Ann', username: 'ann_a' });
    const group = emu.createGroup('Raw group');
    const poll = api(emu, 'getUpdates', { timeout: 5, offset: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent = emu.sendText(ann, group, '/lookalike@raw_test_bot look @raw_test_bot');
    const { json } = await poll;
    assert.equal(json.ok, true);
    assert.equal(json.result.length, 1);
    const update = json.result[0];
    assert.equal(update.message.message_id, sent.message_id);
    assert.equal(update.message.chat.type, 'group');
    assert.ok(update.message.chat.id < 0, 'group ids are negative');
    assert.deepEqual(update.message.entities, [
      { type: 'bot_command', offset: 0, length: 23 },
      { type: 'mention', offset: 29, length: 13 },
    ]);
    // Not yet confirmed: the same update comes again until an offset passes it.
    assert.equal((await api(emu, 'getUpdates', { offset: update.update_id })).json.result.length, 1);
    assert.deepEqual((await api(emu, 'getUpdates', { offset: update.update_id + 1 })).json.result, []);
    assert.equal(emu.pendingUpdateCount, 0);
  });

  test('a second getUpdates ends the first with 409 Conflict', async () => {
    const first = api(emu, 'getUpdates', { timeout: 5 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = api(emu, 'getUpdates', { timeout: 0 });
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.status, 409);
    assert.match(a.json.description, /^Conflict: terminated by other getUpdates request/);
    assert.equal(b.json.ok, true);
  });

  test('a user photo becomes PhotoSizes, each a file to getFile and download', async () => {
    const bob = emu.createUser({ firstName: 'Bob' });
    const chat = emu.privateChat(bob);
    const original = await readFile(obamaPhoto);
    const meta = await sharp(original).metadata();
    const message = await emu.sendPhoto(bob, chat, original, { caption: 'me' });
    const sizes = message.photo!;
    assert.ok(sizes.length >= 2, 'several sizes');
    assert.equal(sizes[0]!.width <= 90 || sizes[0]!.height <= 90, true, 'the first is a thumbnail');
    const largest = sizes.at(-1)!;
    assert.equal(Math.max(largest.width, largest.height), Math.min(2560, Math.max(meta.width, meta.height)));
    assert.equal(new Set(sizes.map((s) => s.file_id)).size, sizes.length, 'each size has its own file_id');
    const file = (await api(emu, 'getFile', { file_id: largest.file_id })).json.result;
    assert.equal(file.file_size, largest.file_size);
    assert.match(file.file_path, /^photos\/file_\d+\.jpg$/);
    const download = await fetch(`${emu.apiRoot}/file/bot${emu.token}/${file.file_path}`);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.length, largest.file_size);
    const decoded = await sharp(bytes).metadata();
    assert.equal(decoded.format, 'jpeg');
    assert.equal(decoded.width, largest.width);
    assert.equal((await fetch(`${emu.apiRoot}/file/bot${emu.token}/photos/nope.jpg`)).status, 404);
    assert.equal((await api(emu, 'getFile', { file_id: 'nonsense' })).json.description, 'Bad Request: invalid file_id');
  });

  test('getFile refuses files over 20 MB like the real server', async () => {
    const bob = emu.createUser({ firstName: 'Big' });
    const doc = emu.sendDocument(bob, emu.privateChat(bob), Buffer.alloc(25 * MB), { fileName: 'huge.png', mimeType: 'image/png' });
    assert.equal(doc.document!.file_size, 25 * MB);
    const res = await api(emu, 'getFile', { file_id: doc.document!.file_id });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { ok: false, error_code: 400, description: 'Bad Request: file is too big' });
  });

  test('sendPhoto multipart keeps the upload; reply_parameters as a form string; captions parse HTML', async () => {
    const cat = emu.createUser({ firstName: 'Cat' });
    const chat = emu.privateChat(cat);
    const asked = emu.sendText(cat, chat, 'hello');
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c03' } }).jpeg().toBuffer();
    const form = new FormData();
    form.append('chat_id', String(chat.id));
    form.append('caption', 'You look like <b>Somebody</b> &amp; co');
    form.append('parse_mode', 'HTML');
    form.append('reply_parameters', JSON.stringify({ message_id: asked.message_id }));
    form.append('photo', new Blob([jpeg], { type: 'image/jpeg' }), 'reply.jpg');
    const since = emu.mark();
    const res = await fetch(`${emu.apiRoot}/bot${emu.token}/sendPhoto`, { method: 'POST', body: form });
    const json = await readJson(res);
    assert.equal(json.ok, true);
    assert.equal(json.result.caption, 'You look like Somebody & co');
    assert.deepEqual(json.result.caption_entities, [{ type: 'bold', offset: 14, length: 8 }]);
    assert.equal(json.result.reply_to_message.message_id, asked.message_id);
    assert.equal(json.result.photo.at(-1).width, 64);
    const call = await emu.waitFor((c) => c.method === 'sendPhoto', { since });
    assert.deepEqual(call.media, jpeg);
    assert.equal(call.files.photo!.filename, 'reply.jpg');
    assert.equal(call.replyToMessageId, asked.message_id);
    assert.equal(call.text, 'You look like Somebody & co');

    const broken = await api(emu, 'sendMessage', { chat_id: chat.id, text: 'a <blink>b</blink>', parse_mode: 'HTML' });
    assert.equal(broken.status, 400);
    assert.match(broken.json.description, /^Bad Request: can't parse entities: Unsupported start tag "blink"/);
    assert.equal((await api(emu, 'sendMessage', { chat_id: chat.id, text: ' ' })).json.description, 'Bad Request: message text is empty');
    assert.equal((await api(emu, 'sendMessage', { chat_id: 42, text: 'x' })).json.description, 'Bad Request: chat not found');
    const missingReply = await api(emu, 'sendMessage', { chat_id: chat.id, text: 'x', reply_parameters: { message_id: 9999 } });
    assert.equal(missingReply.json.description, 'Bad Request: message to be replied not found');
  });

  test('edits: text, caption and media; unchanged content is refused', async () => {
    const dan = emu.createUser({ firstName: 'Dan' });
    const chat = emu.privateChat(dan);
    const sent = (await api(emu, 'sendMessage', { chat_id: chat.id, text: 'working…' })).json.result;
    const edited = await api(emu, 'editMessageText', { chat_id: chat.id, message_id: sent.message_id, text: 'done' });
    assert.equal(edited.json.result.text, 'done');
    assert.ok(edited.json.result.edit_date);
    const same = await api(emu, 'editMessageText', { chat_id: chat.id, message_id: sent.message_id, text: 'done' });
    assert.match(same.json.description, /^Bad Request: message is not modified/);
    const users = emu.sendText(dan, chat, 'mine');
    assert.equal((await api(emu, 'editMessageText', { chat_id: chat.id, message_id: users.message_id, text: 'x' })).json.description, "Bad Request: message can't be edited");

    const first = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#00f' } }).png().toBuffer();
    const second = await sharp({ create: { width: 80, height: 40, channels: 3, background: '#0f0' } }).png().toBuffer();
    const form = new FormData();
    form.append('chat_id', String(chat.id));
    form.append('photo', new Blob([first]), 'a.png');
    const photoMessage = (await readJson(await fetch(`${emu.apiRoot}/bot${emu.token}/sendPhoto`, { method: 'POST', body: form }))).result;
    const captioned = await api(emu, 'editMessageCaption', { chat_id: chat.id, message_id: photoMessage.message_id, caption: 'new caption' });
    assert.equal(captioned.json.result.caption, 'new caption');
    const media = new FormData();
    media.append('chat_id', String(chat.id));
    media.append('message_id', String(photoMessage.message_id));
    media.append('media', JSON.stringify({ type: 'photo', media: 'attach://pic', caption: 'swapped' }));
    media.append('pic', new Blob([second]), 'b.png');
    const since = emu.mark();
    const swapped = (await readJson(await fetch(`${emu.apiRoot}/bot${emu.token}/editMessageMedia`, { method: 'POST', body: media }))).result;
    assert.equal(swapped.photo.at(-1).width, 80);
    assert.equal(swapped.caption, 'swapped');
    assert.deepEqual((await emu.waitFor((c) => c.method === 'editMessageMedia', { since })).media, second);
  });

  test('an injected 429 carries retry_after, then the method works again', async () => {
    const eve = emu.createUser({ firstName: 'Eve' });
    emu.injectError({ method: 'sendMessage', errorCode: 429, retryAfter: 3 });
    const limited = await api(emu, 'sendMessage', { chat_id: emu.privateChat(eve).id, text: 'hi' });
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.json, { ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } });
    assert.equal((await api(emu, 'sendMessage', { chat_id: eve.id, text: 'hi' })).json.ok, true);
  });

  test('webhooks: updates are posted with the secret header; getUpdates is refused meanwhile', async () => {
    const received: { secret: string | undefined; body: any }[] = [];
    const hook = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      received.push({ secret: req.headers['x-telegram-bot-api-secret-token'] as string | undefined, body: JSON.parse(body) });
      res.end();
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    try {
      assert.equal((await api(emu, 'setWebhook', { url, secret_token: 'bad secret!' })).json.description, 'Bad Request: secret token contains unallowed characters');
      assert.equal((await api(emu, 'setWebhook', { url, secret_token: 's3cret_-' })).json.result, true);
      const fay = emu.createUser({ firstName: 'Fay' });
      const sent = emu.sendText(fay, emu.privateChat(fay), '/start');
      const deadline = Date.now() + 5000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(received[0]?.secret, 's3cret_-');
      assert.equal(received[0]?.body.message.message_id, sent.message_id);
      const polled = await api(emu, 'getUpdates', {});
      assert.equal(polled.status, 409);
      const info = (await api(emu, 'getWebhookInfo')).json.result;
      assert.equal(info.url, url);
      assert.equal(info.pending_update_count, 0);
      assert.equal((await api(emu, 'deleteWebhook')).json.result, true);
      assert.equal((await api(emu, 'getWebhookInfo')).json.result.url, '');
    } finally {
      hook.closeAllConnections();
      hook.close();
    }
  });

  test('setMyCommands checks the commands and getMyCommands returns them', async () => {
    assert.equal((await api(emu, 'setMyCommands', { commands: [{ command: 'Bad Name', description: 'x' }] })).json.description, 'Bad Request: BOT_COMMAND_INVALID');
    assert.equal((await api(emu, 'setMyCommands', { commands: TELEGRAM_COMMANDS })).json.result, true);
    assert.deepEqual((await api(emu, 'getMyCommands')).json.result, TELEGRAM_COMMANDS);
  });
});

describe('the telegraf bot on the emulator, without the face engine', () => {
  test('starts by polling, registers its commands, answers /start and /help', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      assert.equal(h.running.mode, 'polling');
      assert.deepEqual(h.emu.commands.get(JSON.stringify({ type: 'default' })), TELEGRAM_COMMANDS);
      const ann = h.emu.createUser({ firstName: 'Ann' });
      const start = await answerTo(h.emu, h.emu.sendText(ann, h.emu.privateChat(ann), '/start'));
      assert.match(start.text!, /Send me a selfie/);
      assert.match(start.text!, /Privacy: photos and face data are never stored/);
      for (const command of ['/lookalike', '/leaderboard', '/hide', '/show', '/forget']) assert.ok(start.text!.includes(command), command);
      const group = h.emu.createGroup('Help group');
      const help = await answerTo(h.emu, h.emu.sendText(ann, group, `/help@${h.emu.bot.username}`));
      assert.equal(help.text, start.text);
      // Addressed to another bot: not ours to answer. The next message shows the update was seen.
      const other = h.emu.sendText(ann, group, '/help@some_other_bot');
      await answerTo(h.emu, h.emu.sendText(ann, group, '/help'));
      assert.deepEqual(answersTo(h.emu, other), []);
    }));

  test('in a private chat nothing goes unanswered; in a group plain messages and photos are ignored', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const ben = h.emu.createUser({ firstName: 'Ben' });
      const chat = h.emu.privateChat(ben);
      assert.match((await answerTo(h.emu, h.emu.sendText(ben, chat, 'hello?'))).text!, /Send me a photo/);
      assert.match((await answerTo(h.emu, h.emu.sendText(ben, chat, '/dance'))).text!, /don't know that command/);
      const group = h.emu.createGroup('Quiet group');
      const chatter = h.emu.sendText(ben, group, 'hello everyone');
      const photo = await h.emu.sendPhoto(ben, group, await readFile(obamaPhoto));
      const captioned = await h.emu.sendPhoto(ben, group, await readFile(obamaPhoto), { caption: 'look at this /lookalike@some_other_bot' });
      await answerTo(h.emu, h.emu.sendText(ben, group, '/help'));
      assert.deepEqual([...answersTo(h.emu, chatter), ...answersTo(h.emu, photo), ...answersTo(h.emu, captioned)], []);
      assert.equal(h.emu.calls.filter((c) => c.method === 'getFile').length, 0, 'nothing was downloaded');
    }));

  test('/lookalike without a photo to look at says what to do', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const cy = h.emu.createUser({ firstName: 'Cy' });
      const group = h.emu.createGroup('Command group');
      const text = h.emu.sendText(cy, group, 'just words');
      assert.match((await answerTo(h.emu, h.emu.sendText(cy, group, '/lookalike', { replyTo: text }))).text!, /reply \/lookalike to a message with a photo/);
      assert.match((await answerTo(h.emu, h.emu.sendText(cy, group, '/lookalike'))).text!, /Send me a photo/);
    }));

  test('inputs refused before matching: a text document, an empty file, a 25 MB file', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const dee = h.emu.createUser({ firstName: 'Dee' });
      const chat = h.emu.privateChat(dee);
      const text = h.emu.sendDocument(dee, chat, Buffer.from('just some notes\n'), { fileName: 'notes.txt', mimeType: 'text/plain' });
      assert.match((await answerTo(h.emu, text)).text!, /isn't a photo I can read/);
      const pdf = h.emu.sendDocument(dee, chat, Buffer.from('%PDF-1.4'), { fileName: 'scan.pdf', mimeType: 'application/pdf' });
      assert.match((await answerTo(h.emu, pdf)).text!, /isn't a photo I can read/);
      const empty = h.emu.sendDocument(dee, chat, Buffer.alloc(0), { fileName: 'selfie.jpg', mimeType: 'image/jpeg' });
      assert.match((await answerTo(h.emu, empty)).text!, /That file is empty/);
      // With the emulator as API root the bot follows the server's limit: getFile refuses, the bot explains.
      const since = h.emu.mark();
      const huge = h.emu.sendDocument(dee, chat, Buffer.alloc(25 * MB, 0xff), { fileName: 'huge.jpg', mimeType: 'image/jpeg' });
      assert.match((await answerTo(h.emu, huge)).text!, /too large for me to download/);
      const getFile = await h.emu.waitFor((c) => c.method === 'getFile', { since });
      assert.equal(getFile.description, 'Bad Request: file is too big');
      // In a group a document is for the bot only when its caption asks.
      const group = h.emu.createGroup('Docs group');
      const ignored = h.emu.sendDocument(dee, group, Buffer.from('x'), { fileName: 'a.txt', mimeType: 'text/plain' });
      const asked = h.emu.sendDocument(dee, group, Buffer.from('x'), { fileName: 'a.txt', mimeType: 'text/plain', caption: '/lookalike' });
      assert.match((await answerTo(h.emu, asked)).text!, /isn't a photo I can read/);
      assert.deepEqual(answersTo(h.emu, ignored), []);
    }));

  test('/leaderboard ranks stored results per group; /hide, /show and /forget change it; other groups keep theirs', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const emu = h.emu;
      const [ann, bob, cat] = [emu.createUser({ firstName: 'Ann', lastName: 'Able' }), emu.createUser({ firstName: 'Bob' }), emu.createUser({ firstName: 'Cat', username: 'cat_c' })];
      const groupA = emu.createGroup('Group A');
      const groupB = emu.createGroup('Group B', { supergroup: true });
      const seed = (chatId: number, user: { id: number }, displayName: string, celebrity: string, similarity: number) =>
        h.store.recordResult({ platform: 'telegram', chatId: String(chatId), userId: String(user.id), displayName, celebrity, similarity });
      await seed(groupA.id, ann, 'Ann Able', 'Angelina Jolie', 71.2);
      await seed(groupA.id, ann, 'Ann Able', 'Kaley Cuoco', 64);
      await seed(groupA.id, bob, 'Bob', 'Barack Obama', 83.4);
      await seed(groupA.id, cat, 'Cat', 'Angelina Jolie', 77.9);
      await seed(groupB.id, ann, 'Ann Able', 'Mayim Bialik', 90);

      const board = async (group: typeof groupA, user = ann) => (await answerTo(emu, emu.sendText(user, group, '/leaderboard'))).text!;
      assert.equal(
        await board(groupA),
        'Look-alike leaderboard of Group A\n1. Bob: Barack Obama, 83%\n2. Cat: Angelina Jolie, 78%\n3. Ann Able: Angelina Jolie, 71%\n\nMost matched: Angelina Jolie (2), Barack Obama (1), Kaley Cuoco (1)',
      );
      assert.match(await board(groupB), /^Look-alike leaderboard of Group B\n1\. Ann Able: Mayim Bialik, 90%\n/);

      assert.match((await answerTo(emu, emu.sendText(bob, groupA, '/hide'))).text!, /no longer appear on any leaderboard/);
      assert.match(await board(groupA), /^Look-alike leaderboard of Group A\n1\. Cat: Angelina Jolie, 78%\n2\. Ann Able: Angelina Jolie, 71%\n\nMost matched: Angelina Jolie \(2\), Kaley Cuoco \(1\)$/);
      assert.match((await answerTo(emu, emu.sendText(bob, emu.privateChat(bob), '/show'))).text!, /back on the leaderboards/);
      assert.match(await board(groupA), /^Look-alike leaderboard of Group A\n1\. Bob: Barack Obama, 83%\n2\. Cat/);

      assert.match((await answerTo(emu, emu.sendText(ann, groupA, '/forget'))).text!, /I deleted your 3 results/);
      assert.match(await board(groupA, bob), /^Look-alike leaderboard of Group A\n1\. Bob: Barack Obama, 83%\n2\. Cat: Angelina Jolie, 78%\n\n/);
      assert.match(await board(groupB, bob), /Nobody here is on it yet/, "Ann's result in group B went with /forget");
      assert.match((await answerTo(emu, emu.sendText(ann, groupA, '/forget'))).text!, /I had no results stored about you/);
      assert.match((await answerTo(emu, emu.sendText(ann, emu.privateChat(ann), '/leaderboard'))).text!, /Leaderboards live in groups/);
    }));

  test('display names are escaped in the HTML leaderboard', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const emu = h.emu;
      const eve = emu.createUser({ firstName: '<Eve & co>' });
      const group = emu.createGroup('Tags <b>');
      await h.store.recordResult({ platform: 'telegram', chatId: String(group.id), userId: String(eve.id), displayName: '<Eve & co>', celebrity: 'Paul Rudd', similarity: 66 });
      const text = (await answerTo(emu, emu.sendText(eve, group, '/leaderboard'))).text!;
      assert.match(text, /^Look-alike leaderboard of Tags <b>\n1\. <Eve & co>: Paul Rudd, 66%/);
    }));

  test('a 429 from the Bot API is waited out and the answer still arrives', () =>
    withHarness({ engine: unreachableEngine }, async (h) => {
      const fred = h.emu.createUser({ firstName: 'Fred' });
      const since = h.emu.mark();
      h.emu.injectError({ method: 'sendMessage', errorCode: 429, retryAfter: 1 });
      const asked = h.emu.sendText(fred, h.emu.privateChat(fred), '/help');
      const answer = await answerTo(h.emu, asked);
      assert.match(answer.text!, /Which celebrity/);
      const attempts = h.emu.calls.slice(since).filter((c) => c.method === 'sendMessage' && c.chatId === fred.id);
      assert.deepEqual(attempts.map((c) => c.errorCode ?? 200), [429, 200]);
    }));
});

describe('size limit known in advance (Telegram servers, or TELEGRAM_MAX_FILE_MB)', () => {
  test('a 25 MB file is refused from the size in the message, without getFile', async () => {
    const h = await startHarness({ engine: unreachableEngine, maxFileBytes: TELEGRAM_DOWNLOAD_LIMIT_BYTES });
    try {
      const gus = h.emu.createUser({ firstName: 'Gus' });
      const huge = h.emu.sendDocument(gus, h.emu.privateChat(gus), Buffer.alloc(25 * MB), { fileName: 'big.png', mimeType: 'image/png' });
      assert.match((await answerTo(h.emu, huge)).text!, /over 20 MB/);
      assert.equal(h.emu.calls.filter((c) => c.method === 'getFile').length, 0);
    } finally {
      await h.close();
    }
  });
});

describe('admission limits and failures, with an engine that blocks or breaks on purpose', () => {
  test('rate limit per user, busy when the queue is full, timeout, and an internal error with an id', async () => {
    // This engine never answers until released, so that requests pile up exactly as configured.
    const gates: (() => void)[] = [];
    const blocking: LookalikeEngine = {
      modelId: 'blocking',
      gallerySize: 0,
      match: () => new Promise((resolve) => gates.push(() => resolve(fail('no_face', 'released by the test')))),
      async close() {},
    };
    const h = await startHarness({ engine: blocking, limits: { perUserRequests: 2, perUserWindowMs: 60_000, concurrency: 1, queueSize: 1, timeoutMs: 1500 } });
    try {
      const emu = h.emu;
      const photo = await readFile(obamaPhoto);
      const [ivy, jon, kim] = ['Ivy', 'Jon', 'Kim'].map((firstName) => emu.createUser({ firstName })) as [ReturnType<typeof emu.createUser>, ReturnType<typeof emu.createUser>, ReturnType<typeof emu.createUser>];
      const sent: Message[] = await emu.batch(async () => [
        await emu.sendPhoto(ivy, emu.privateChat(ivy), photo),
        await emu.sendPhoto(ivy, emu.privateChat(ivy), photo),
        await emu.sendPhoto(ivy, emu.privateChat(ivy), photo),
        await emu.sendPhoto(jon, emu.privateChat(jon), photo),
      ]);
      const [first, second, third, fourth] = sent as [Message, Message, Message, Message];
      assert.match((await answerTo(emu, third)).text!, /Easy there! You can try again in \d+ seconds/);
      assert.match((await answerTo(emu, fourth)).text!, /I'm busy with lots of photos/);
      await emu.waitFor((c) => c.method === 'sendChatAction' && c.chatId === ivy.id && c.params.action === 'upload_photo');
      // The first is stuck in the engine and the second waits behind it: both run out of time.
      assert.match((await answerTo(emu, first)).text!, /That took too long/);
      assert.match((await answerTo(emu, second)).text!, /That took too long/);
      while (gates.length) gates.shift()!();

      const broken: LookalikeEngine = { ...blocking, match: async () => Promise.reject(new Error('inference exploded')) };
      h.running.bot.deps.engine = broken;
      const asked = await emu.sendPhoto(kim, emu.privateChat(kim), photo);
      const apology = (await answerTo(emu, asked)).text!;
      assert.match(apology, /Something went wrong on my side, sorry\. If it keeps happening, mention error [0-9a-f]{8}\./);
      await h.running.bot.drain();
      for (const message of [first, second, third, fourth, asked]) assert.equal(answersTo(emu, message).length, 1, 'one answer each, no more');
    } finally {
      while (gates.length) gates.shift()!();
      await h.close();
    }
  });
});

describe('webhook mode', () => {
  test('updates arrive by webhook with the secret; a request without it gets 403', async () => {
    const emu = await TelegramEmulator.start();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'lookalike-webhook-'));
    const store = await openStore({ dataDir });
    const port = await freePort();
    const running = await runTelegramBot(
      {
        token: emu.token,
        apiRoot: emu.apiRoot,
        maxFileBytes: null,
        limits: {},
        webhook: { url: `http://127.0.0.1:${port}/telegram/hook`, secret: 'hook_secret-1', port, host: '127.0.0.1' },
      },
      { engine: unreachableEngine, store },
    );
    try {
      assert.equal(running.mode, 'webhook');
      assert.equal(running.webhookPort, port);
      const lia = emu.createUser({ firstName: 'Lia' });
      const answer = await answerTo(emu, emu.sendText(lia, emu.privateChat(lia), '/start'));
      assert.match(answer.text!, /Which celebrity/);
      const forged = { update_id: 1, message: { message_id: 1, date: 0, chat: { id: lia.id, type: 'private', first_name: 'Lia' }, from: lia, text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] } };
      const post = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${port}/telegram/hook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(forged) });
      assert.equal((await post({})).status, 403);
      assert.equal((await post({ 'x-telegram-bot-api-secret-token': 'guess' })).status, 403);
      assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`, { method: 'POST', headers: { 'x-telegram-bot-api-secret-token': 'hook_secret-1' }, body: '{}' })).status, 403);
    } finally {
      await running.stop();
      await store.close();
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('configuration from the environment', () => {
  test('a missing token names TELEGRAM_BOT_TOKEN; limits follow the API root unless overridden', () => {
    assert.throws(() => telegramSettingsFromEnv({}), { name: 'ConfigError', message: /TELEGRAM_BOT_TOKEN is not set/ });
    assert.throws(() => telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: 'not a token' }), /TELEGRAM_BOT_TOKEN does not look like a bot token/);
    const token = '123456:ABCdef_-';
    assert.equal(telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token }).maxFileBytes, 20 * MB);
    assert.equal(telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' }).maxFileBytes, null);
    assert.equal(telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_API_ROOT: 'http://127.0.0.1:8081', TELEGRAM_MAX_FILE_MB: '2000' }).maxFileBytes, 2000 * MB);
    assert.throws(() => telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_MAX_FILE_MB: '-1' }), /TELEGRAM_MAX_FILE_MB/);
    assert.throws(() => telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_API_ROOT: 'ftp://x' }), /TELEGRAM_API_ROOT/);
    const hooked = telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_WEBHOOK_URL: 'https://bot.example/tg', TELEGRAM_WEBHOOK_PORT: '9000' });
    assert.equal(hooked.webhook?.port, 9000);
    assert.match(hooked.webhook!.secret, /^[0-9a-f]{64}$/, 'a random secret when none is given');
    assert.equal(telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token }).webhook, undefined, 'long polling by default');
    assert.throws(() => telegramSettingsFromEnv({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_WEBHOOK_URL: 'https://bot.example/tg', TELEGRAM_WEBHOOK_SECRET: 'no spaces allowed' }), /TELEGRAM_WEBHOOK_SECRET/);
  });

  test('a second instance polling the same token ends the first with a clear error', async () => {
    const emu = await TelegramEmulator.start();
    const dirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), 'lookalike-twice-')));
    const stores = await Promise.all(dirs.map((dataDir) => openStore({ dataDir })));
    const settings = { token: emu.token, apiRoot: emu.apiRoot, maxFileBytes: null, limits: {} };
    const first = await runTelegramBot(settings, { engine: unreachableEngine, store: stores[0]! });
    try {
      await emu.waitFor((c) => c.method === 'deleteWebhook');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const second = await runTelegramBot(settings, { engine: unreachableEngine, store: stores[1]! });
      try {
        await assert.rejects(first.stopped, { name: 'ConfigError', message: /another process is receiving the updates of this TELEGRAM_BOT_TOKEN \(409 Conflict\)/ });
        const mo = emu.createUser({ firstName: 'Mo' });
        assert.match((await answerTo(emu, emu.sendText(mo, emu.privateChat(mo), '/help'))).text!, /Which celebrity/, 'the second instance works');
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      await Promise.all(stores.map((s) => s.close()));
      await emu.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a token the Bot API refuses is a ConfigError naming the variable', async () => {
    const emu = await TelegramEmulator.start();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'lookalike-badtoken-'));
    const store = await openStore({ dataDir });
    try {
      await assert.rejects(runTelegramBot({ token: '1:wrong', apiRoot: emu.apiRoot, maxFileBytes: null, limits: {} }, { engine: unreachableEngine, store }), {
        name: 'ConfigError',
        message: /TELEGRAM_BOT_TOKEN was refused/,
      });
    } finally {
      await store.close();
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
