import { mkdirSync, writeFileSync, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Config } from '../../config.ts';
import { indexDir, tryOpenEngine } from '../../core/engine.ts';
import { Gallery } from '../../core/gallery.ts';
import { similarityFloorOf } from '../../core/models/registry.ts';
import type { FaceChoice, LookalikeEngine, MatchReport } from '../../core/engineTypes.ts';
import type { Gender } from '../../core/gallery.ts';
import { parseFaceChoice } from '../../bots/shared/faceChoice.ts';
import { fail, ok, type Failure, type Result } from '../../core/result.ts';
import type { Precision } from '../../core/models/embedder.ts';
import { dataDirOf, detectorOption, modelOption, precisionOption } from '../options.ts';
import { say } from '../run.ts';
import { celebrityLookalikes, type CelebrityMode } from './celebrity.ts';

interface MatchCliOptions {
  top: number;
  from?: string;
  out?: string;
  json?: boolean;
  model?: string;
  detector?: string;
  precision?: Precision;
  celebrity?: string;
  by: CelebrityMode;
  gender?: Gender;
  face?: FaceChoice;
}

export function registerMatchCommand(program: Command, config: Config): void {
  program
    .command('match [photos...]')
    .description('find the closest people in the index for every face in each photo (a folder stands for the photos in it), or for a person of the index (--celebrity)')
    .addOption(new Option('--top <n>', 'people per face').default(5).argParser(positiveInt))
    .option('--from <file>', "read the photos' paths from this file, one per line ('-': standard input)")
    .option('--out <path>', 'where to write the picture: a file for one photo, a folder for several')
    .option('--json', 'one JSON object per photo per line on stdout')
    .addOption(modelOption())
    .addOption(detectorOption())
    .addOption(new Option('--gender <gender>', 'compare only with women or men of the index (its metadata: IMDB-WIKI, or people.csv)').choices(['female', 'male']))
    .addOption(new Option('--face <n|centre>', 'in a group photo, match only this face: its number counted from the left, or centre').argParser(faceChoice))
    .addOption(precisionOption())
    .option('--celebrity <name>', 'instead of photos: the other people of the index who look most like this one')
    .addOption(new Option('--by <how>', "with --celebrity: compare the person's average face (mean) or their closest pair of faces (best)").choices(['mean', 'best']).default('mean'))
    .action(async (args: string[], opts: MatchCliOptions, command: Command) => {
      if (opts.celebrity !== undefined) {
        if (args.length > 0 || opts.from !== undefined) {
          say('lookalike: give photos or --celebrity, not both');
          process.exitCode = 2;
          return;
        }
        await matchCelebrity(opts.celebrity, opts, dataDirOf(command));
        return;
      }
      const photos = await photoPaths(args, opts.from);
      if (!photos.ok) {
        say(`lookalike: ${photos.error.message}`);
        process.exitCode = 2;
        return;
      }
      if (photos.value.length === 0) {
        say('lookalike: give one or more photos (or a folder of them, or --from a list), or --celebrity "Name"');
        process.exitCode = 2;
        return;
      }
      await matchPhotos(photos.value, opts, dataDirOf(command), config);
    });
}

/** Image files by their name, as `match <folder>` picks them. */
const IMAGE_FILE = /\.(jpe?g|png|webp|gif|avif|heic|heif|tiff?)$/i;

/**
 * The photos to match: each argument a photo or a folder (its image files, by name), then the lines of
 * --from. Thousands of photos fit this way where a command line would not.
 */
async function photoPaths(args: string[], from: string | undefined): Promise<Result<string[]>> {
  const out: string[] = [];
  for (const arg of args) {
    let entries: Dirent[] | null = null;
    try {
      if ((await stat(arg)).isDirectory()) entries = await readdir(arg, { withFileTypes: true });
    } catch {
      // Not there: matched like any photo, and reported as missing in its turn.
    }
    if (!entries) out.push(arg);
    else out.push(...entries.filter((e) => !e.isDirectory() && IMAGE_FILE.test(e.name)).map((e) => path.join(arg, e.name)).sort());
  }
  if (from !== undefined) {
    let text: string;
    try {
      text = from === '-' ? await readStdin() : await readFile(from, 'utf8');
    } catch (err) {
      return fail('missing_file', `cannot read the list ${from}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    out.push(...text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')));
  }
  return ok(out);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function matchPhotos(photos: string[], opts: MatchCliOptions, dataDir: string, config: Config): Promise<void> {
  const engine = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: config.device, model: opts.model, detector: opts.detector, precision: opts.precision });
  if (!engine.ok) {
    report(photos, opts, () => engine);
    process.exitCode = 2;
    return;
  }
  try {
    let failed = 0;
    for (const photo of photos) {
      const result = await matchFile(photo, engine.value, { ...opts, many: photos.length > 1 });
      if (!result.ok) failed++;
      print(photo, result, opts);
    }
    if (failed > 0) process.exitCode = 1;
  } finally {
    await engine.value.close();
  }
}

async function matchCelebrity(name: string, opts: MatchCliOptions, dataDir: string): Promise<void> {
  const opened = await Gallery.open(indexDir(dataDir));
  if (!opened.ok) {
    say(`lookalike: ${opened.error.message}`);
    process.exitCode = 2;
    return;
  }
  const gallery = opened.value;
  // The model only lends its similarity floor, so that percentages read as they do for photos.
  const floor = await similarityFloorOf(gallery.info.modelId);
  if (!floor.ok) {
    say(`lookalike: ${floor.error.message}`);
    process.exitCode = 2;
    return;
  }
  const found = celebrityLookalikes(gallery, name, { top: opts.top, mode: opts.by, floor: floor.value });
  if (!found.ok) {
    if (opts.json) process.stdout.write(`${JSON.stringify({ celebrity: name, error: found.error })}\n`);
    else say(`lookalike: ${found.error.message}`);
    process.exitCode = 1;
    return;
  }
  const r = found.value;
  if (opts.json) {
    const matches = r.matches.map((m) => ({ name: m.name, similarity: m.similarity, image: m.image }));
    process.stdout.write(`${JSON.stringify({ celebrity: r.name, faces: r.faces, by: r.mode, model: gallery.info.modelId, matches })}\n`);
    return;
  }
  const how = r.mode === 'mean' ? 'average face' : 'closest pair of faces';
  const lines = [`People who look most like ${r.name} (${r.faces} face${r.faces === 1 ? '' : 's'}; by ${how}):`];
  r.matches.forEach((m, i) => lines.push(`  ${i + 1}. ${m.name} ${m.similarity.toFixed(1)} %`));
  if (r.matches.length === 0) lines.push('  nobody else is in the index');
  process.stdout.write(`${lines.join('\n')}\n`);
}

type Matched = MatchReport & { picture: string | null };

async function matchFile(photo: string, engine: LookalikeEngine, opts: MatchCliOptions & { many: boolean }): Promise<Result<Matched>> {
  const bytes = await readPhoto(photo);
  if (!bytes.ok) return bytes;
  const picture = picturePath(photo, opts);
  const result = await engine.match(bytes.value, {
    top: opts.top,
    composite: picture !== null,
    ...(opts.gender ? { gender: opts.gender } : {}),
    ...(opts.face !== undefined ? { face: opts.face } : {}),
  });
  if (!result.ok) return result;
  if (picture && result.value.composite) {
    mkdirSync(path.dirname(picture), { recursive: true });
    writeFileSync(picture, result.value.composite);
  }
  return ok({ ...result.value, picture });
}

async function readPhoto(photo: string): Promise<Result<Buffer>> {
  try {
    return ok(await readFile(photo));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('missing_file', `No such file: ${photo}`);
    if (code === 'EISDIR') return fail('not_an_image', `${photo} is a folder, not an image`);
    if (code === 'EACCES') return fail('missing_file', `Cannot read ${photo}: permission denied`);
    throw err;
  }
}

/** The picture goes next to the photo, or to --out (a file for one photo, a folder for several). */
function picturePath(photo: string, opts: MatchCliOptions & { many: boolean }): string | null {
  const name = `${path.parse(photo).name}.lookalike.jpg`;
  if (opts.out) return opts.many ? path.join(opts.out, name) : opts.out;
  return opts.json ? null : path.join(path.dirname(photo), name);
}

function print(photo: string, result: Result<Matched>, opts: MatchCliOptions): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(toJson(photo, result))}\n`);
    return;
  }
  if (!result.ok) {
    say(`${photo}: ${result.error.message}`);
    return;
  }
  const { faces, facesFound, picture } = result.value;
  const counted = facesFound > faces.length ? `${faces.length} of ${facesFound} faces (the largest; --face N picks another, counted from the left)` : `${faces.length} face${faces.length === 1 ? '' : 's'}`;
  const lines = [`${photo}: ${counted}`];
  faces.forEach((face, i) => {
    const [best, ...rest] = face.matches;
    const where = `[${face.box.x}, ${face.box.y}, ${face.box.width}x${face.box.height}]`;
    const when = best?.photoYear !== undefined ? ` (photo ${best.photoYear}, age ${best.age})` : '';
    lines.push(`  face ${face.number ?? i + 1} ${where}: ${best ? `${best.name} ${best.similarity.toFixed(1)} %${when}` : 'no match'}`);
    if (rest.length > 0) lines.push(`    then ${rest.map((m) => `${m.name} ${m.similarity.toFixed(1)} %`).join(', ')}`);
  });
  if (picture) lines.push(`  picture: ${picture}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function toJson(photo: string, result: Result<Matched>) {
  if (!result.ok) return { input: photo, error: result.error };
  return {
    input: photo,
    model: result.value.modelId,
    facesFound: result.value.facesFound,
    faces: result.value.faces.map((f) => ({
      number: f.number,
      box: [f.box.x, f.box.y, f.box.width, f.box.height],
      matches: f.matches.map((m) => ({
        name: m.name,
        similarity: m.similarity,
        image: m.image,
        ...(m.gender ? { gender: m.gender } : {}),
        ...(m.photoYear !== undefined ? { photoYear: m.photoYear, age: m.age } : {}),
      })),
    })),
    ...(result.value.picture ? { picture: result.value.picture } : {}),
  };
}

function report(photos: string[], opts: MatchCliOptions, error: () => { ok: false; error: Failure }): void {
  if (opts.json) for (const photo of photos) print(photo, error(), opts);
  else say(`lookalike: ${error().error.message}`);
}

function faceChoice(value: string): FaceChoice {
  const choice = parseFaceChoice(value);
  if (choice === undefined || choice === null) throw new InvalidArgumentError(`expected a face number (1, 2, ...) or centre, got "${value}"`);
  return choice;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
