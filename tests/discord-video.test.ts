import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine } from '../src/core/engine.ts';
import type { LookalikeEngine } from '../src/core/engineTypes.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { callsAbout, startDiscordHarness, type DiscordHarness } from './support/discordHarness.ts';
import { buildPeopleIndex, config } from './support/engine.ts';
import { videosDir } from './support/paths.ts';

// A video attached to /lookalike through the real Discord bot, the emulator and the real engine: the
// deferred reply becomes "Watching...", is edited with progress, and the picture comes as a follow-up.

const PEOPLE = new Set(['Lin_Manuel_Miranda', 'Alex_Lacamoire', 'Barack_Obama', 'Kevin_Sussman', 'Jim_Parsons', 'Kaley_Cuoco']);
const work = mkdtempSync(path.join(tmpdir(), 'lookalike-dc-video-'));
let engine: LookalikeEngine;
let dataDir: string;
let clip: Buffer;
let h: DiscordHarness;

before(async () => {
  dataDir = (await buildPeopleIndex((file) => !PEOPLE.has(path.basename(path.dirname(file))))).dataDir;
  engine = await openEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  const file = path.join(work, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', '3', '-t', '4', '-i', path.join(videosDir, 'hamilton_clip.mp4'),
    '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', file]);
  clip = readFileSync(file);
  h = await startDiscordHarness({ engine, limits: { perUserRequests: 100 } });
});

after(async () => {
  await h?.close();
  await engine?.close();
  rmSync(work, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('videos attached to /lookalike on Discord', () => {
  test('deferred, edited to "Watching..." and with progress, then the picture as a follow-up naming Lin-Manuel Miranda', async () => {
    const { emu } = h;
    const uma = await emu.createUser({ username: 'uma' });
    const guild = emu.createGuild('Stage');
    await emu.addMember(guild, uma);
    const ix = await emu.slashCommand(guild, uma, 'lookalike', { image: { file: { bytes: clip, filename: 'clip.mp4', contentType: 'video/mp4' } } });
    const followup = await emu.waitFor(() => emu.interactions.get(ix.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 60_000, what: 'the follow-up' });
    // Every edit of the original reply, in order (the emulator's answers list only the first).
    const edits = callsAbout(emu, ix.id)
      .filter((c) => c.method === 'PATCH' && c.route.endsWith('/messages/@original') && c.status === 200)
      .map((c) => String((c.body as { content?: string }).content ?? ''));
    assert.equal(edits[0], 'Watching...');
    assert.ok(edits.some((c) => /^Watching\.\.\. \d+ frames? watched/.test(c)), `a progress edit: ${edits.join(' | ')}`);
    assert.match(edits.at(-1)!, /^Done: \d+ frames watched\. You look most like Lin Manuel Miranda/);
    assert.equal(followup.ephemeral, false);
    assert.equal(followup.embeds[0]?.title, 'You look like Lin Manuel Miranda');
    assert.equal(followup.files.length, 1);
    assert.equal((await sharp(followup.files[0]!.bytes).metadata()).format, 'jpeg');
    // The leaderboard records it like a photo's result, just after the follow-up is sent.
    let board = await h.store.leaderboard('discord', guild.id);
    for (let i = 0; i < 50 && board.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      board = await h.store.leaderboard('discord', guild.id);
    }
    assert.deepEqual(board.map((e) => [e.userId, e.celebrity]), [[uma.id, 'Lin Manuel Miranda']]);
  });

  test('a 90 s video (Discord gives no duration before the download) is refused as too long, not as damaged', { timeout: 120_000 }, async () => {
    const { emu } = h;
    const wes = await emu.createUser({ username: 'wes' });
    const guild = emu.createGuild('Long');
    await emu.addMember(guild, wes);
    const file = path.join(work, 'long90.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=480x270:r=25:d=90',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '30', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', file]);
    const bytes = readFileSync(file);
    assert.ok(bytes.length > 2 * 1024 * 1024, `a real-sized clip: ${bytes.length} bytes`);
    const ix = await emu.slashCommand(guild, wes, 'lookalike', { image: { file: { bytes, filename: 'long.mp4', contentType: 'video/mp4' } } });
    const refusal = await emu.waitFor(() => emu.interactions.get(ix.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 60_000, what: 'the refusal' });
    assert.equal(refusal.ephemeral, true);
    assert.match(refusal.content, /too long.*a minute or less/);
  });

  test('a file with no picture in it is refused after looking, the placeholder removed', async () => {
    const { emu } = h;
    const vic = await emu.createUser({ username: 'vic' });
    const guild = emu.createGuild('Sound');
    await emu.addMember(guild, vic);
    const audio = path.join(work, 'tone.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', audio]);
    const ix = await emu.slashCommand(guild, vic, 'lookalike', { image: { file: { bytes: readFileSync(audio), filename: 'tone.mp4', contentType: 'video/mp4' } } });
    const refusal = await emu.waitFor(() => emu.interactions.get(ix.id)!.answers.find((a) => a.via === 'followup'), { timeoutMs: 30_000, what: 'the refusal' });
    assert.equal(refusal.ephemeral, true);
    assert.match(refusal.content, /no picture in it/);
    await emu.waitFor(() => emu.interactions.get(ix.id)!.original === 'deleted', { timeoutMs: 10_000, what: 'the deferred reply deleted' });
  });
});
