import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationCommandOptionType, ApplicationIntegrationType, InteractionContextType } from 'discord.js';
import { sharp } from '../src/core/runtime/sharp.ts';
import { translator } from '../src/bots/shared/i18n.ts';
import { replyText } from '../src/bots/shared/replies.ts';
import { ERROR_PREFIX } from '../src/bots/discord/texts.ts';
import type { Answer, DiscordEmulator, FileSpec, PostedInteraction } from './support/discordEmulator.ts';
import { startDiscordHarness, type DiscordHarness } from './support/discordHarness.ts';
import { buildGenderedGallery, displayName, faceRow, MEN, selfieOf, WOMEN, type GenderedGallery } from './support/genderedGallery.ts';
import { videosDir } from './support/paths.ts';

// The Discord bot's features of issue 13 through the real discord.js client and the emulator: the
// gender option and the stored setting, answers and command localizations per locale, the age of the
// celebrity's photo, /morph, DMs with a user-installed app, pictures and videos that arrive only as
// link embeds, Find look-alike on videos, and group photos with more faces than are matched.

let g: GenderedGallery;
let h: DiscordHarness;
let work: string;

before(async () => {
  g = await buildGenderedGallery();
  h = await startDiscordHarness({ engine: g.engine, limits: { perUserRequests: 100 } });
  work = mkdtempSync(path.join(tmpdir(), 'lookalike-dc-features-'));
});

after(async () => {
  await h?.close();
  await g?.close();
  rmSync(work, { recursive: true, force: true });
});

const women = new Set(WOMEN.map(displayName));
const men = new Set(MEN.map(displayName));

async function file(person: string): Promise<FileSpec> {
  const p = selfieOf(person);
  return { bytes: await readFile(p), filename: path.basename(p), contentType: p.endsWith('.png') ? 'image/png' : 'image/jpeg' };
}

/** The answer that carries a file (the picture follows a "Watching..." edit for videos). */
function pictureAnswer(emu: DiscordEmulator, ix: PostedInteraction, timeoutMs = 60_000): Promise<Answer> {
  return emu.waitFor(() => emu.interactions.get(ix.id)?.answers.find((a) => a.files.length > 0 || a.content.startsWith(ERROR_PREFIX)), { timeoutMs, what: 'a picture' });
}

const field = (answer: Answer, name: string) => answer.embeds[0]?.fields?.find((f) => f.name === name)?.value;
const embedNames = (answer: Answer, t = translator('en')) => [field(answer, t('discord.top_match'))!, ...(field(answer, t('discord.runners_up')) ?? '').split('\n').map((l) => l.replace(/ \d+%$/, ''))];

describe('registration', () => {
  test('commands carry localizations, the gender and face options, and work in DMs of a user install', () => {
    const byName = new Map(h.emu.globalCommands.map((c) => [c.name, c]));
    assert.deepEqual([...byName.keys()].sort(), ['Find look-alike', 'forget', 'hide', 'leaderboard', 'lookalike', 'morph', 'show']);
    const lookalike = byName.get('lookalike')!;
    assert.deepEqual(lookalike.options?.map((o) => [o.name, o.type]), [
      ['image', ApplicationCommandOptionType.Attachment],
      ['user', ApplicationCommandOptionType.User],
      ['gender', ApplicationCommandOptionType.String],
      ['face', ApplicationCommandOptionType.String],
    ]);
    const gender = lookalike.options!.find((o) => o.name === 'gender') as { choices?: { value: string; name_localizations?: Record<string, string> }[] };
    assert.deepEqual(gender.choices?.map((c) => c.value), ['everyone', 'female', 'male']);
    assert.equal(gender.choices?.[1]?.name_localizations?.['es-ES'], 'Mujeres');
    assert.equal(lookalike.description_localizations?.ru, translator('ru')('discordCommands.lookalike.description'));
    assert.equal(byName.get('forget')!.name_localizations?.['pt-BR'], 'esquecer');
    for (const name of ['lookalike', 'morph', 'Find look-alike', 'forget', 'hide', 'show']) {
      const c = byName.get(name)!;
      assert.deepEqual(c.contexts, [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel], name);
      assert.deepEqual(c.integration_types, [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall], name);
    }
    assert.deepEqual(byName.get('leaderboard')!.contexts, [InteractionContextType.Guild], 'leaderboards live in servers');
  });
});

describe('whom to be compared with', () => {
  test('gender: female answers women only and is remembered; /forget removes it', async () => {
    const { emu } = h;
    const ben = await emu.createUser({ username: 'ben' });
    const guild = emu.createGuild('Filters');
    await emu.addMember(guild, ben);
    const filtered = await emu.answerTo(await emu.slashCommand(guild, ben, 'lookalike', { image: { file: await file('Barack_Obama') }, gender: { value: 'female' } }));
    const names = embedNames(filtered);
    assert.equal(names.length, 4, JSON.stringify(filtered.embeds[0]));
    assert.ok(names.every((n) => women.has(n)), names.join(', '));
    assert.equal(await h.store.compareWith('discord', ben.id), 'female');
    const remembered = await emu.answerTo(await emu.slashCommand(guild, ben, 'lookalike', { image: { file: await file('Jim_Parsons') } }));
    assert.ok(embedNames(remembered).every((n) => women.has(n)), 'the stored setting applies without the option');
    const men_ = await emu.answerTo(await emu.slashCommand(guild, ben, 'lookalike', { image: { file: await file('Kaley_Cuoco') }, gender: { value: 'male' } }));
    assert.ok(embedNames(men_).every((n) => men.has(n)), embedNames(men_).join(', '));
    await emu.answerTo(await emu.slashCommand(guild, ben, 'forget'));
    assert.equal(await h.store.compareWith('discord', ben.id), 'everyone');
    const everyone = await emu.answerTo(await emu.slashCommand(guild, ben, 'lookalike', { image: { file: await file('Jim_Parsons') } }));
    assert.equal(field(everyone, 'Top match'), 'Jim Parsons');
  });
});

describe('your language and the photo age', () => {
  test('an es-ES client gets Spanish, with the year and age of the matched row; an unknown locale English', async () => {
    const { emu } = h;
    const eva = await emu.createUser({ username: 'eva' });
    const guild = emu.createGuild('Idiomas');
    await emu.addMember(guild, eva);
    const es = translator('es');
    const spanish = await emu.answerTo(await emu.slashCommand(guild, eva, 'lookalike', { image: { file: await file('Angelina_Jolie') } }, { locale: 'es-ES' }));
    assert.equal(spanish.embeds[0]!.title, 'Te pareces a Angelina Jolie');
    assert.equal(field(spanish, es('discord.top_match')), 'Angelina Jolie');
    const matched = await g.engine.match(await readFile(selfieOf('Angelina_Jolie')), { composite: false });
    assert.ok(matched.ok);
    const row = g.rowOf(matched.value.faces[0]!.matches[0]!.image);
    assert.equal(field(spanish, es('discord.photo')), `${row.photoYear}, a los ${row.age} años`);
    const refused = await emu.answerTo(await emu.slashCommand(guild, eva, 'lookalike', { image: { file: { bytes: Buffer.from('%PDF-1.4'), filename: 'cv.pdf', contentType: 'application/pdf' } } }, { locale: 'ru' }));
    assert.equal(refused.content, `${ERROR_PREFIX}${replyText(translator('ru'), 'not_an_image')}`);
    assert.match(refused.content!, /AVIF или TIFF\.$/);
    const german = await emu.answerTo(await emu.slashCommand(guild, eva, 'lookalike', { image: { file: await file('Jim_Parsons') } }, { locale: 'de' }));
    assert.equal(german.embeds[0]!.title, 'You look like Jim Parsons');
  });
});

describe('morph', () => {
  test('/morph image: a looping GIF of the face turning into its match', async () => {
    const { emu } = h;
    const mo = await emu.createUser({ username: 'mo' });
    const guild = emu.createGuild('Morphs');
    await emu.addMember(guild, mo);
    const answer = await pictureAnswer(emu, await emu.slashCommand(guild, mo, 'morph', { image: { file: await file('Kunal_Nayyar') } }));
    assert.match(answer.content, /^You → Kunal Nayyar \(\d+% similar\)$/);
    assert.equal(answer.files[0]!.filename, 'morph.gif');
    const meta = await sharp(answer.files[0]!.bytes, { animated: true }).metadata();
    assert.equal(meta.format, 'gif');
    assert.ok((meta.pages ?? 0) > 10 && meta.loop === 0, `${meta.pages} frames, loop ${meta.loop}`);
  });
});

describe('direct messages, link embeds and videos', () => {
  test('/lookalike in a DM with the user-installed app answers there, and stores nothing for leaderboards', async () => {
    const { emu } = h;
    const dee = await emu.createUser({ username: 'dee' });
    const guild = emu.createGuild('Unused');
    const ix = await emu.slashCommand(guild, dee, 'lookalike', { image: { file: await file('Mayim_Bialik') } }, { dm: true });
    const answer = await emu.answerTo(ix);
    assert.equal(field(answer, 'Top match'), 'Mayim Bialik');
    assert.equal((ix.payload as { context?: number }).context, 1);
    assert.deepEqual(await h.store.leaderboard('discord', guild.id), []);
  });

  test('Find look-alike on a message whose picture is only a link embed; on a GIF link; on an attached video', async () => {
    const { emu } = h;
    const fay = await emu.createUser({ username: 'fay' });
    const poster = await emu.createUser({ username: 'poster' });
    const guild = emu.createGuild('Links');
    await emu.addMember(guild, fay);
    await emu.addMember(guild, poster);
    const linked = await emu.postMessage(guild, poster, {
      content: 'look https://example.invalid/melissa.jpg',
      embeds: [{ type: 'image', url: 'https://example.invalid/melissa.jpg', file: await file('Melissa_Rauch') }],
    });
    const byLink = await emu.answerTo(await emu.messageCommand(guild, fay, 'Find look-alike', linked));
    assert.equal(byLink.embeds[0]!.title, 'This face looks like Melissa Rauch');

    const clip = path.join(work, 'clip.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', '3', '-t', '2', '-i', path.join(videosDir, 'hamilton_clip.mp4'), '-an', '-c:v', 'libx264', '-preset', 'ultrafast', clip]);
    const gifv = await emu.postMessage(guild, poster, { embeds: [{ type: 'gifv', url: 'https://tenor.invalid/view/dance', file: { bytes: readFileSync(clip), filename: 'dance.mp4', contentType: 'video/mp4' } }] });
    const byGifv = await pictureAnswer(emu, await emu.messageCommand(guild, fay, 'Find look-alike', gifv));
    assert.equal(byGifv.files[0]!.filename, 'lookalike.jpg', byGifv.content);
    assert.match(byGifv.embeds[0]!.title ?? '', /^This face looks like /);

    const attached = await emu.postMessage(guild, poster, { files: [{ bytes: readFileSync(clip), filename: 'party.mp4', contentType: 'video/mp4' }] });
    const byVideo = await pictureAnswer(emu, await emu.messageCommand(guild, fay, 'Find look-alike', attached));
    assert.equal(byVideo.files[0]!.filename, 'lookalike.jpg', byVideo.content);

    const empty = await emu.answerTo(await emu.messageCommand(guild, fay, 'Find look-alike', await emu.postMessage(guild, poster, { content: 'just words' })));
    assert.ok(empty.ephemeral && empty.content.includes('has no picture'), empty.content);
  });
});

describe('group photos with more faces than are matched', () => {
  const row = ['Barack_Obama', 'Kaley_Cuoco', 'Jim_Parsons', 'Mayim_Bialik', 'Kunal_Nayyar', 'Melissa_Rauch', 'Johnny_Galecki', 'Angelina_Jolie'];
  test('the embed says 6 of 8 faces and how to ask; face: 8 matches the eighth from the left', async () => {
    const { emu } = h;
    const gus = await emu.createUser({ username: 'gus' });
    const guild = emu.createGuild('Groups');
    await emu.addMember(guild, gus);
    const picture: FileSpec = { bytes: await faceRow(row.map(selfieOf)), filename: 'class.jpg', contentType: 'image/jpeg' };
    const all = await emu.answerTo(await emu.slashCommand(guild, gus, 'lookalike', { image: { file: picture } }));
    const description = all.embeds[0]!.description ?? '';
    assert.match(description, /^6 of 8 faces, largest first:\n/);
    assert.ok(description.endsWith(translator('en')('caption.pick_face_discord', { count: 8 })), description);
    const eighth = await emu.answerTo(await emu.slashCommand(guild, gus, 'lookalike', { image: { file: picture }, face: { value: '8' } }));
    assert.equal(field(eighth, 'Top match'), displayName(row[7]!));
    const centre = await emu.answerTo(await emu.slashCommand(guild, gus, 'lookalike', { image: { file: picture }, face: { value: 'centre' } }));
    assert.ok([displayName(row[3]!), displayName(row[4]!)].includes(field(centre, 'Top match')!), field(centre, 'Top match'));
    const twelfth = await emu.answerTo(await emu.slashCommand(guild, gus, 'lookalike', { image: { file: picture }, face: { value: '12' } }));
    assert.equal(twelfth.content, `${ERROR_PREFIX}There are 8 faces in this photo: ask for one from 1 to 8, counted from the left.`);
  });
});
