import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NODE_FLAGS } from '../src/nodeFlags.ts';
import { Gallery } from '../src/core/gallery.ts';
import { decodeImage } from '../src/core/decode.ts';
import { writeBadInputs } from './support/badInputs.ts';
import { lookalike, runScript } from './support/cli.ts';
import { linkPeopleGallery } from './support/linkedGallery.ts';
import { peopleDir, repoRoot, scenesDir } from './support/paths.ts';

// The command line the way a user runs it: the built bin, a child process, real files.


// A gallery of four people with one photo of each held back, linked (not copied) from the shared folder.
const people = ['Barack_Obama', 'Joe_Biden', 'Angelina_Jolie', 'Simon_Helberg'];
const heldOut: Record<string, string> = {};
let work: string;
let dataDir: string;

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'lookalike-cli-'));
  dataDir = path.join(work, 'data');
  const gallery = path.join(work, 'gallery');
  for (const person of people) {
    const files = readdirSync(path.join(peopleDir, person)).sort();
    heldOut[person] = path.join(peopleDir, person, files[0]!);
    mkdirSync(path.join(gallery, person), { recursive: true });
    for (const file of files.slice(1)) symlinkSync(path.join(peopleDir, person, file), path.join(gallery, person, file));
  }
  const built = await lookalike(['index', 'build', gallery, '--data', dataDir]);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /Indexed \d+ faces of 4 people/);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('cli: match names the person in readable lines and writes the picture to --out', async () => {
  const out = path.join(work, 'obama.jpg');
  const r = await lookalike(['match', heldOut.Barack_Obama!, '--out', out, '--data', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /face 1 .*: Barack Obama \d+\.\d %/);
  const picture = await decodeImage(readFileSync(out));
  assert.ok(picture.ok && picture.value.width >= 400, 'the picture is a real image');
});

test('cli: --json gives one object per photo, failures included, and a non-zero exit', async () => {
  const bad = writeBadInputs(work, heldOut.Joe_Biden!);
  const inputs = [
    heldOut.Joe_Biden!,
    path.join(work, 'missing.jpg'),
    bad.empty_file!,
    bad.not_an_image!,
    bad.corrupt_image!,
    bad.too_many_pixels!,
    path.join(scenesDir, 'faceapi_bbt__white.png'),
    heldOut.Angelina_Jolie!,
  ];
  const r = await lookalike(['match', ...inputs, '--json', '--top', '3', '--data', dataDir]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.input), inputs);
  assert.deepEqual(
    lines.map((l) => l.error?.code ?? l.faces[0].matches[0].name),
    ['Joe Biden', 'missing_file', 'empty_file', 'not_an_image', 'corrupt_image', 'too_many_pixels', 'no_face', 'Angelina Jolie'],
  );
  const first = lines[0];
  assert.equal(first.faces[0].box.length, 4);
  assert.equal(first.faces[0].matches.length, 3);
  assert.ok(first.faces[0].matches[0].similarity > first.faces[0].matches[1].similarity);
});

test('cli: a group photo gives one face per person in it', async () => {
  // Biden, Obama and a child beside them (not in the gallery); nothing for the raised hands or the streamers.
  const r = await lookalike(['match', path.join(scenesDir, 'face_recognition__obama_and_biden.jpg'), '--json', '--data', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const faces = JSON.parse(r.stdout).faces as { box: number[]; matches: { name: string }[] }[];
  assert.equal(faces.length, 3);
  assert.deepEqual(faces.slice(0, 2).map((f) => f.matches[0]!.name).sort(), ['Barack Obama', 'Joe Biden']);
  const child = faces[2]!.box;
  assert.ok(child[0]! > 1500 && child[1]! > 900, `the child's face at ${child.join(', ')}`);
});

test('cli: a missing index and a model mismatch each get one clear line', async () => {
  const none = await lookalike(['match', heldOut.Simon_Helberg!, '--data', path.join(work, 'nothing-here')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No index at .*index build/);
  assert.doesNotMatch(none.stderr, /\n\s+at /);

  const otherData = path.join(work, 'other');
  const g = Gallery.create(path.join(otherData, 'index'), { modelId: 'vggface', descriptor: '4096', dims: 4, detector: 'blazeface', alignment: 'keypoints' });
  g.add({ name: 'X', image: 'x.jpg', box: { x: 0, y: 0, width: 1, height: 1 }, source: 'cascade' }, new Float32Array([1, 0, 0, 0]));
  await g.save();
  const mismatch = await lookalike(['match', heldOut.Simon_Helberg!, '--model', 'default', '--data', otherData]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /built with model "vggface", not "default"/);
  assert.ok(existsSync(path.join(otherData, 'index', 'gallery.json')), 'a refused match changes nothing');

  // An index from before the CNN detector records none: it was the Haar cascade's, and another is refused.
  const haarData = path.join(work, 'haar');
  const h = Gallery.create(path.join(haarData, 'index'), { modelId: 'default', descriptor: '128', dims: 4, detector: 'haar', alignment: 'box' });
  h.add({ name: 'X', image: 'x.jpg', box: { x: 0, y: 0, width: 1, height: 1 }, source: 'cascade' }, new Float32Array([1, 0, 0, 0]));
  await h.save();
  const meta = path.join(haarData, 'index', 'gallery.json');
  const { detector: _d, alignment: _a, ...old } = JSON.parse(readFileSync(meta, 'utf8'));
  writeFileSync(meta, JSON.stringify(old));
  const detectorMismatch = await lookalike(['match', heldOut.Simon_Helberg!, '--detector', 'blazeface', '--data', haarData]);
  assert.equal(detectorMismatch.code, 2);
  assert.match(detectorMismatch.stderr, /built with the haar face detector, not blazeface\. Match without --detector, or rebuild the index with --detector blazeface/);
  assert.equal(detectorMismatch.stderr.trim().split('\n').length, 1);
});

// onnxruntime-node 1.30 read the command line with a recursive regex when it created its first session:
// past ~30 KB of arguments the main thread's stack overflowed and the process died of SIGSEGV before
// printing anything (src/core/runtime/ortEnv.ts).
test('cli: match with 500 photo arguments (a 40 KB command line) answers every one', async () => {
  const missing = Array.from({ length: 499 }, (_, i) => path.join(work, 'a-folder-whose-name-is-long-enough', `photo-number-${String(i).padStart(4, '0')}-is-not-here.jpg`));
  const args = ['match', '--json', '--data', dataDir, heldOut.Barack_Obama!, ...missing];
  assert.ok(args.join(' ').length > 40_000, `${args.join(' ').length} characters`);
  const r = await lookalike(args);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr.slice(-500)}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 500);
  assert.equal(lines[0].faces[0].matches[0].name, 'Barack Obama');
  assert.ok(lines.slice(1).every((l) => l.error?.code === 'missing_file'));
});

test('cli: match takes a folder (the images in it) and --from a list of paths', async () => {
  const folder = path.join(work, 'selfies');
  mkdirSync(folder);
  symlinkSync(heldOut.Joe_Biden!, path.join(folder, 'b.jpg'));
  symlinkSync(heldOut.Angelina_Jolie!, path.join(folder, `a${path.extname(heldOut.Angelina_Jolie!)}`));
  writeFileSync(path.join(folder, 'notes.txt'), 'not a photo');
  const byFolder = await lookalike(['match', folder, '--json', '--data', dataDir]);
  assert.equal(byFolder.code, 0, byFolder.stderr);
  const names = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l).faces[0].matches[0].name);
  assert.deepEqual(names(byFolder.stdout), ['Angelina Jolie', 'Joe Biden'], 'the folder’s images by name, the text file left out');

  const list = path.join(work, 'list.txt');
  writeFileSync(list, `# selfies to check\n${heldOut.Simon_Helberg}\n\n  ${heldOut.Barack_Obama}  \n`);
  const byList = await lookalike(['match', '--from', list, '--json', '--data', dataDir]);
  assert.equal(byList.code, 0, byList.stderr);
  assert.deepEqual(names(byList.stdout), ['Simon Helberg', 'Barack Obama']);

  const noList = await lookalike(['match', '--from', path.join(work, 'no-such-list.txt'), '--data', dataDir]);
  assert.equal(noList.code, 2);
  assert.match(noList.stderr, /cannot read the list .*no-such-list\.txt: ENOENT/);
});

test('an index build with worker threads, from a process with a 40 KB command line', async () => {
  const gallery = linkPeopleGallery(path.join(work, 'small-gallery'), ['Joe_Biden'], (files) => files.slice(1, 3));
  const padding = Array.from({ length: 500 }, (_, i) => `an-argument-that-only-makes-the-command-line-long-${i}`);
  const r = await runScript(path.join(repoRoot, 'tests', 'support', 'buildIndexChild.ts'), [gallery, path.join(work, 'pool-data'), ...padding]);
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr.slice(-500)}`);
  assert.match(r.stdout, /^faces [1-9]\d*$/m);
});

test('cli: a command loads only the libraries it uses (no chat client, queue or PostgreSQL driver for help or a match)', async () => {
  const trace = { NODE_OPTIONS: `--import ${path.join(repoRoot, 'tests', 'support', 'packageTrace.mjs')}` };
  const loaded = (stderr: string) => [...stderr.matchAll(/^package (\S+)$/gm)].map((m) => m[1]!);
  const unused = ['telegraf', 'discord.js', 'bullmq', 'ioredis', 'rate-limiter-flexible', 'pg', 'protobufjs'];
  for (const args of [['--help'], ['match', '--help'], ['index', 'build', '--help'], ['worker', '--help'], ['bot', '--help']]) {
    const ran = await lookalike(args, trace);
    assert.equal(ran.code, 0, ran.stderr);
    const packages = loaded(ran.stderr);
    assert.ok(packages.includes('commander'), `the trace saw the program's imports: ${packages.join(', ')}`);
    assert.deepEqual(unused.filter((name) => packages.includes(name)), [], `lookalike ${args.join(' ')} loaded ${packages.join(', ')}`);
  }
});

const run = promisify(execFile);

test('cli: the bin starts itself with the shipped Node flags (its first line), and runs as a program', async () => {
  const bin = path.join(repoRoot, 'bin', 'lookalike.js');
  const shebang = readFileSync(bin, 'utf8').split('\n')[0]!;
  assert.match(shebang, /^#!\/usr\/bin\/env -S node( |$)/);
  assert.deepEqual(shebang.split(' ').slice(3), [...NODE_FLAGS], 'bin/lookalike.js and src/nodeFlags.ts give the same flags');
  // As npx and a shell run it: the kernel reads the first line.
  const ran = await run(bin, ['--help'], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  assert.match(ran.stdout, /^Usage: lookalike/);
});
