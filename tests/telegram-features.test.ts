import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sharp } from '../src/core/runtime/sharp.ts';
import { translator } from '../src/bots/shared/i18n.ts';
import { replyText } from '../src/bots/shared/replies.ts';
import { telegramCommands } from '../src/bots/telegram/commands.ts';
import { buildGenderedGallery, displayName, faceRow, MEN, selfieOf, WOMEN, type GenderedGallery } from './support/genderedGallery.ts';
import { videosDir } from './support/paths.ts';
import { answerTo, withHarness } from './support/telegramHarness.ts';

// The Telegram bot's features of issue 13 end to end, through the real telegraf client and the Bot API
// emulator: /settings with an inline keyboard, answers in the user's language (and the command menu
// per language), the celebrity's age in the caption, /morph as an animation, MP4 and GIF files sent as
// documents, and group photos with more faces than are matched.

let g: GenderedGallery;
let work: string;

before(async () => {
  g = await buildGenderedGallery();
  work = mkdtempSync(path.join(tmpdir(), 'lookalike-tg-features-'));
});

after(async () => {
  await g?.close();
  rmSync(work, { recursive: true, force: true });
});

const women = new Set(WOMEN.map(displayName));
const men = new Set(MEN.map(displayName));
/** The names in a caption: the bold top match, then the runners-up. */
const captionNames = (caption: string) => {
  const top = /like (.+?) \(/.exec(caption)?.[1];
  const rest = /(?:Runners-up|También): (.+)$/m.exec(caption)?.[1]?.split(', ').map((s) => s.replace(/ \d+%$/, '')) ?? [];
  return [top, ...rest].filter((n): n is string => Boolean(n));
};

describe('whom to be compared with: /settings', () => {
  test('an inline keyboard sets women only; a man then sees women only; /forget removes the setting', () =>
    withHarness({ engine: g.engine }, async (h) => {
      const { emu } = h;
      const sam = emu.createUser({ firstName: 'Sam' });
      const chat = emu.privateChat(sam);
      const asked = emu.sendText(sam, chat, '/settings');
      const menu = await answerTo(emu, asked);
      assert.equal(menu.text, 'Whom should I compare you with? Now: everyone.');
      const message = emu.message(chat.id, (menu.result as { message_id: number }).message_id)!;
      assert.deepEqual(message.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['✓ Everyone', 'Women', 'Men']);

      const since = emu.mark();
      const press = emu.pressButton(sam, message, 'Women');
      const answered = await emu.waitFor((c) => c.ok && c.method === 'answerCallbackQuery' && c.params.callback_query_id === press.id, { since });
      assert.equal(answered.text, 'Saved. I compare you with women only from now on.');
      await emu.waitFor((c) => c.ok && c.method === 'editMessageText', { since });
      assert.deepEqual(emu.message(chat.id, message.message_id)!.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['Everyone', '✓ Women', 'Men']);
      assert.equal(await h.store.compareWith('telegram', String(sam.id)), 'female');

      const sent = await emu.sendPhoto(sam, chat, await readFile(selfieOf('Barack_Obama')));
      const answer = await answerTo(emu, sent);
      assert.equal(answer.method, 'sendPhoto', answer.text);
      const names = captionNames(answer.text!);
      assert.equal(names.length, 4, answer.text);
      assert.ok(names.every((n) => women.has(n)), `women only: ${names.join(', ')}`);

      // Someone else pressing a button of Sam's message sets their own setting, and Sam's message stays.
      const kim = emu.createUser({ firstName: 'Kim' });
      const before = emu.mark();
      const other = emu.pressButton(kim, emu.message(chat.id, message.message_id)!, 'Men');
      await emu.waitFor((c) => c.ok && c.method === 'answerCallbackQuery' && c.params.callback_query_id === other.id, { since: before });
      assert.equal(await h.store.compareWith('telegram', String(kim.id)), 'male');
      assert.equal(await h.store.compareWith('telegram', String(sam.id)), 'female');

      await answerTo(emu, emu.sendText(sam, chat, '/forget'));
      assert.equal(await h.store.compareWith('telegram', String(sam.id)), 'everyone', '/forget removed the setting');
      const again = await answerTo(emu, await emu.sendPhoto(sam, chat, await readFile(selfieOf('Barack_Obama'))));
      assert.equal(captionNames(again.text!)[0], 'Barack Obama');
      assert.ok(captionNames(again.text!).some((n) => men.has(n)));
    }));
});

describe('your language', () => {
  test('Spanish, Russian and Portuguese users get their language; an unknown one English; the command menu per language', () =>
    withHarness({ engine: g.engine }, async (h) => {
      const { emu } = h;
      assert.deepEqual(emu.commands.get(JSON.stringify({ type: 'default' })), telegramCommands('en'));
      for (const lng of ['es', 'ru', 'pt'] as const) assert.deepEqual(emu.commands.get(JSON.stringify({ type: 'default' }) + lng), telegramCommands(lng), `${lng} menu`);

      const ana = emu.createUser({ firstName: 'Ana', languageCode: 'es' });
      const sent = await emu.sendPhoto(ana, emu.privateChat(ana), await readFile(selfieOf('Jim_Parsons')));
      const answer = await answerTo(emu, sent);
      assert.match(answer.text!, /^Te pareces a Jim Parsons \(\d+% de parecido\)\./, answer.text);
      // The age shown is the one of the matched row of the fixture.
      const matched = await g.engine.match(emu.fileBytes(sent.photo!.at(-1)!.file_id)!, { composite: false });
      assert.ok(matched.ok);
      const row = g.rowOf(matched.value.faces[0]!.matches[0]!.image);
      assert.equal(answer.text!.split('\n')[1], `${row.photoYear}, a los ${row.age} años`);

      const ivan = emu.createUser({ firstName: 'Ivan', languageCode: 'ru' });
      const blank = emu.sendDocument(ivan, emu.privateChat(ivan), Buffer.from('not an image at all\n'.repeat(20)), { fileName: 'x.txt', mimeType: 'text/plain' });
      const refusal = (await answerTo(emu, blank)).text;
      assert.equal(refusal, replyText(translator('ru'), 'not_an_image'));
      assert.match(refusal!, /^Этот файл не похож на фото.*JPEG, PNG, WebP, GIF, AVIF или TIFF\.$/);
      const help = await answerTo(emu, emu.sendText(ivan, emu.privateChat(ivan), '/help'));
      assert.match(help.text!, /^На какую знаменитость вы похожи\?/);

      const joao = emu.createUser({ firstName: 'João', languageCode: 'pt-br' });
      const menu = await answerTo(emu, emu.sendText(joao, emu.privateChat(joao), '/settings'));
      assert.equal(menu.text, 'Com quem devo comparar você? Agora: todos.');

      const hans = emu.createUser({ firstName: 'Hans', languageCode: 'de' });
      const hint = await answerTo(emu, emu.sendText(hans, emu.privateChat(hans), 'hallo'));
      assert.equal(hint.text, translator('en')('reply.no_photo_hint'));
    }));
});

describe('/morph', () => {
  test('as a reply to a photo, and as a photo caption: an MP4 animation under 10 MB with a caption naming the match', () =>
    withHarness({ engine: g.engine }, async (h) => {
      const { emu } = h;
      const lea = emu.createUser({ firstName: 'Lea' });
      const group = emu.createGroup('Morphs');
      const photo = await emu.sendPhoto(lea, group, await readFile(selfieOf('Kaley_Cuoco')));
      const ask = emu.sendText(lea, group, '/morph', { replyTo: photo });
      const answer = await answerTo(emu, ask, 60_000);
      assert.equal(answer.method, 'sendAnimation', answer.text);
      assert.match(answer.text!, /^You → Kaley Cuoco \(\d+% similar\)$/);
      assert.ok(answer.media!.length > 1000 && answer.media!.length < 10 * 1024 * 1024, `${answer.media!.length} bytes`);
      assert.equal(answer.media!.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
      const captioned = await emu.sendPhoto(lea, emu.privateChat(lea), await readFile(selfieOf('Jim_Parsons')), { caption: '/morph' });
      assert.equal((await answerTo(emu, captioned, 60_000)).method, 'sendAnimation');
      const bare = await answerTo(emu, emu.sendText(lea, group, '/morph'));
      assert.equal(bare.text, translator('en')('morph.no_photo'));
    }));
});

describe('videos sent as files', () => {
  test('an MP4 and a GIF sent as documents are watched as videos, not refused as "not a photo"', () =>
    withHarness({ engine: g.engine }, async (h) => {
      const { emu } = h;
      const clip = path.join(work, 'clip.mp4');
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', '3', '-t', '2', '-i', path.join(videosDir, 'hamilton_clip.mp4'), '-an', '-c:v', 'libx264', '-preset', 'ultrafast', clip]);
      const max = emu.createUser({ firstName: 'Max' });
      const chat = emu.privateChat(max);
      const doc = emu.sendDocument(max, chat, readFileSync(clip), { fileName: 'holiday.mp4', mimeType: 'video/mp4' });
      const watching = await answerTo(emu, doc);
      assert.equal(watching.text, 'Watching...');
      const picture = await emu.waitFor((c) => c.ok && c.method === 'sendPhoto' && c.replyToMessageId === doc.message_id, { timeoutMs: 60_000 });
      assert.match(picture.text!, /look like/);

      // A GIF of a face, a few frames long.
      const face = await sharp(selfieOf('Angelina_Jolie')).resize(240, 240, { fit: 'cover' }).removeAlpha().raw().toBuffer();
      const gif = await sharp(Buffer.concat([face, face, face]), { raw: { width: 240, height: 720, channels: 3, pageHeight: 240 } }).gif({ delay: [200, 200, 200] }).toBuffer();
      writeFileSync(path.join(work, 'face.gif'), gif);
      const gifDoc = emu.sendDocument(max, chat, gif, { fileName: 'face.gif', mimeType: 'image/gif' });
      assert.equal((await answerTo(emu, gifDoc)).text, 'Watching...');
      const gifPicture = await emu.waitFor((c) => c.ok && c.method === 'sendPhoto' && c.replyToMessageId === gifDoc.message_id, { timeoutMs: 60_000 });
      assert.match(gifPicture.text!, /Angelina Jolie/);
    }));
});

describe('group photos with more faces than are matched', () => {
  const row = ['Barack_Obama', 'Kaley_Cuoco', 'Jim_Parsons', 'Mayim_Bialik', 'Kunal_Nayyar', 'Melissa_Rauch', 'Johnny_Galecki', 'Angelina_Jolie'];

  test('the caption says "6 of 8 faces" and how to ask; /lookalike 7 matches the seventh from the left; a face beyond the photo is explained', () =>
    withHarness({ engine: g.engine }, async (h) => {
      const { emu } = h;
      const zoe = emu.createUser({ firstName: 'Zoe' });
      const group = emu.createGroup('Class of 2024');
      const photo = await emu.sendPhoto(zoe, group, await faceRow(row.map(selfieOf)), { caption: '/lookalike' });
      const answer = await answerTo(emu, photo);
      assert.equal(answer.method, 'sendPhoto', answer.text);
      const lines = answer.text!.split('\n');
      assert.equal(lines[0], '6 of 8 faces, largest first:');
      assert.equal(lines.at(-1), translator('en')('caption.pick_face_telegram', { count: 8 }));
      for (const line of lines.slice(1, 7)) {
        const [, n, name] = /^(\d)\. (.+?) \d+%/.exec(line) ?? [];
        assert.equal(name, displayName(row[Number(n) - 1]!), line);
      }
      const seventh = await answerTo(emu, emu.sendText(zoe, group, '/lookalike 7', { replyTo: photo }));
      assert.equal(seventh.method, 'sendPhoto', seventh.text);
      assert.match(seventh.text!, new RegExp(`^Face 7 of 8, counted from the left:\\n7\\. ${displayName(row[6]!)} \\d+%`));
      const ninth = await answerTo(emu, emu.sendText(zoe, group, '/lookalike 9', { replyTo: photo }));
      assert.equal(ninth.text, 'There are 8 faces in this photo: ask for one from 1 to 8, counted from the left.');
      const nonsense = await answerTo(emu, emu.sendText(zoe, group, '/lookalike left', { replyTo: photo }));
      assert.equal(nonsense.text, translator('en')('reply.bad_face_choice'));
    }));
});
