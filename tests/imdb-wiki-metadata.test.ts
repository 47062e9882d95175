import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MatFormatError, parseMatFile } from '../src/jobs/imdbWiki/matFile.ts';
import { imdbWikiMetadataFromMat, nameOf, readImdbWikiMetadata, type ImdbWikiMetadata } from '../src/jobs/imdbWiki/metadata.ts';
import {
  CleaningStats,
  ageAtPhoto,
  agesAtPhoto,
  cleanMetadata,
  datenumToDate,
  dropDuplicates,
  filterRows,
} from '../src/jobs/imdbWiki/clean.ts';
import { encodeImdbWikiMat, encodeMatFile, mat, writeImdbWikiMat, type ImdbWikiRow } from './support/matWriter.ts';
import { peopleDir, sharedDir, wikiMatPath } from './support/paths.ts';

let wiki: ImdbWikiMetadata;
let tmp: string;

before(async () => {
  wiki = await readImdbWikiMetadata(wikiMatPath);
  tmp = await mkdtemp(path.join(tmpdir(), 'imdb-wiki-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('the real wiki.mat parses into 62,328 rows of parallel columns', () => {
  assert.equal(wiki.variant, 'wiki');
  assert.equal(wiki.rows, 62_328);
  for (const column of [wiki.fullPath, wiki.name, wiki.dob, wiki.photoTaken, wiki.gender, wiki.faceScore, wiki.secondFaceScore]) {
    assert.equal(column.length, 62_328);
  }
  assert.equal(wiki.faceLocation.length, 4 * 62_328);
  assert.ok(wiki.dob instanceof Float64Array && wiki.faceLocation instanceof Float64Array);
  assert.equal(wiki.celebId, undefined);
  assert.equal(wiki.celebNames, undefined);
  // First row, as MATLAB shows it.
  assert.equal(wiki.fullPath[0], '17/10000217_1981-05-05_2009.jpg');
  assert.equal(wiki.name[0], 'Sami Jauhojärvi');
  assert.equal(wiki.dob[0], 723671);
  assert.equal(wiki.photoTaken[0], 2009);
  assert.deepEqual(Array.from(wiki.faceLocation.subarray(0, 4)), [111.29109473290997, 111.29109473290997, 252.66993081807996, 252.66993081807996]);
});

test('score columns carry -Inf and NaN where the dataset documents them', () => {
  let finiteFace = 0;
  let minusInfFace = 0;
  let nanSecond = 0;
  let unknownGender = 0;
  for (let i = 0; i < wiki.rows; i++) {
    if (Number.isFinite(wiki.faceScore[i]!)) finiteFace++;
    else if (wiki.faceScore[i] === -Infinity) minusInfFace++;
    if (Number.isNaN(wiki.secondFaceScore[i]!)) nanSecond++;
    if (Number.isNaN(wiki.gender[i]!)) unknownGender++;
  }
  assert.equal(finiteFace, 44_312);
  assert.equal(minusInfFace, 62_328 - 44_312);
  assert.equal(nanSecond, 58_232);
  assert.equal(unknownGender, 2_643);
  assert.equal(wiki.name.filter((n) => n === '').length, 124);
});

test('every identity listed in identities_in_wiki_mat.csv is found with its values', async () => {
  const csv = (await readFile(path.join(sharedDir, 'imdb-wiki', 'identities_in_wiki_mat.csv'), 'utf8')).trim().split(/\r?\n/);
  assert.equal(csv[0], 'name,wiki_full_path,wiki_dob_matlab,photo_taken,gender,face_score,local_images');
  const rowOf = new Map(wiki.fullPath.map((p, i) => [p, i]));
  const entries = csv.slice(1);
  assert.equal(entries.length, 21);
  for (const line of entries) {
    const [name, fullPath, dob, photoTaken, gender, faceScore] = line.split(',');
    const row = rowOf.get(fullPath!);
    assert.ok(row !== undefined, `${name}: ${fullPath} not in wiki.mat`);
    assert.equal(wiki.name[row], name);
    assert.equal(wiki.dob[row], Number(dob));
    assert.equal(wiki.photoTaken[row], Number(photoTaken));
    assert.equal(wiki.gender[row], Number(gender));
    assert.ok(Math.abs(wiki.faceScore[row]! - Number(faceScore)) < 1e-12, `${name}: face_score ${wiki.faceScore[row]} vs ${faceScore}`);
    // The file name repeats the date of birth: the datenum conversion must agree with it.
    const [, y, m, d] = /_(\d{4})-(\d\d)-(\d\d)_/.exec(fullPath!)!;
    assert.deepEqual(datenumToDate(wiki.dob[row]!), { year: Number(y), month: Number(m), day: Number(d) });
  }
});

test('datenum conversion agrees with the birth date in every well-formed file name', () => {
  let checked = 0;
  for (let i = 0; i < wiki.rows; i++) {
    const match = /_(\d{4})-(\d{2})-(\d{2})_(\d{4})\.jpg$/.exec(wiki.fullPath[i]!);
    if (!match) continue;
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
    // Names like 1953-10-00 are MATLAB-normalised to other dates in dob; skip the impossible ones.
    const probe = new Date(0);
    probe.setUTCFullYear(year, month - 1, day);
    if (month < 1 || month > 12 || probe.getUTCDate() !== day) continue;
    assert.deepEqual(datenumToDate(wiki.dob[i]!), { year, month, day }, wiki.fullPath[i]);
    assert.equal(wiki.photoTaken[i], Number(match[4]), wiki.fullPath[i]);
    checked++;
  }
  assert.equal(checked, 62_307); // of 62,328: 21 file names carry malformed or impossible dates (1953-10-00, 1929-10-012)
});

test('age at photo time counts whole years to 1 July of the photo year', () => {
  const jolie = wiki.fullPath.indexOf('09/5792809_1975-06-04_2014.jpg');
  assert.equal(ageAtPhoto(wiki.dob[jolie]!, wiki.photoTaken[jolie]!), 39); // born June 1975
  const musk = wiki.fullPath.indexOf('36/909036_1971-06-28_2015.jpg');
  assert.equal(ageAtPhoto(wiki.dob[musk]!, wiki.photoTaken[musk]!), 44);
  const affleck = wiki.fullPath.indexOf('99/159599_1972-08-15_2015.jpg');
  assert.equal(ageAtPhoto(wiki.dob[affleck]!, wiki.photoTaken[affleck]!), 42); // birthday after 1 July
  assert.equal(ageAtPhoto(719529 + 181, 2000), 30); // 1970-07-01: birthday on the day counts
  assert.equal(ageAtPhoto(719529 + 182, 2000), 29); // 1970-07-02
  assert.ok(Number.isNaN(ageAtPhoto(NaN, 2000)));
  assert.ok(Number.isNaN(ageAtPhoto(720000, NaN)));
  const ages = agesAtPhoto(wiki);
  assert.equal(ages.length, wiki.rows);
  assert.equal(ages[jolie], 39);
});

test('default cleaning of wiki.mat: counts per rule, in order', () => {
  const { kept, stats } = cleanMetadata(wiki);
  console.log(stats.lines().join('\n'));
  assert.deepEqual(
    stats.steps.map((s) => [s.rule, s.removed]),
    [
      ['noFace', 18_016],
      ['lowFaceScore', 19_269],
      ['multipleFaces', 2_447],
      ['noName', 70],
      ['duplicatePath', 0],
    ],
  );
  assert.equal(stats.total, 62_328);
  assert.equal(stats.kept, 22_526);
  assert.equal(kept.length, 22_526);
  // The same count straight from the columns.
  let direct = 0;
  for (let i = 0; i < wiki.rows; i++) {
    if (wiki.faceScore[i]! >= 3 && Number.isNaN(wiki.secondFaceScore[i]!) && wiki.name[i]!.trim() !== '') direct++;
  }
  assert.equal(direct, 22_526);
  assert.ok(kept.every((r, i) => i === 0 || r > kept[i - 1]!), 'kept rows ascending');
  const keptNames = new Set(Array.from(kept, (r) => wiki.name[r]));
  assert.ok(keptNames.has('Angelina Jolie')); // face_score 5.48
  assert.ok(!keptNames.has('Elton John')); // face_score 2.84 < 3

  const lenient = cleanMetadata(wiki, { minFaceScore: -Infinity, requireSingleFace: false, requireName: false });
  assert.deepEqual(lenient.stats.steps.map((s) => s.rule), ['noFace', 'duplicatePath']);
  assert.equal(lenient.kept.length, 44_312);
});

/** Rows in IMDB-WIKI layout for the shared photos: NN/<person>__<file>, as the build job lays them out. */
async function peopleRows(): Promise<ImdbWikiRow[]> {
  const rows: ImdbWikiRow[] = [];
  const people = (await readdir(peopleDir)).sort();
  for (const [p, person] of people.entries()) {
    const files = (await readdir(path.join(peopleDir, person))).sort();
    for (const [f, file] of files.entries()) {
      const i = rows.length;
      rows.push({
        fullPath: `${String(i % 100).padStart(2, '0')}/${person}__${file}`,
        name: person.replaceAll('_', ' '),
        dob: 715000 + 37 * p,
        photoTaken: 2000 + (f % 16),
        gender: p % 3 === 2 ? NaN : p % 2,
        faceLocation: [10 + f, 20.5, 110.25 + p, 130 + f / 3],
        faceScore: f === 0 && p % 5 === 0 ? -Infinity : 1 + ((p * 7 + f) % 50) / 10,
        secondFaceScore: (p + f) % 4 === 0 ? 1.5 + f / 10 : NaN,
      });
    }
  }
  // Corner cases the real files have: no name, non-ASCII and non-BMP text.
  rows[1]!.name = '';
  rows[2]!.name = 'Sami Jauhojärvi';
  rows[3]!.name = 'Björk 😀';
  return rows;
}

function assertSameRows(meta: ImdbWikiMetadata, rows: ImdbWikiRow[]): void {
  assert.equal(meta.rows, rows.length);
  assert.deepEqual(meta.fullPath, rows.map((r) => r.fullPath));
  assert.deepEqual(meta.name, rows.map((r) => r.name));
  assert.deepEqual(Array.from(meta.dob), rows.map((r) => r.dob));
  assert.deepEqual(Array.from(meta.photoTaken), rows.map((r) => r.photoTaken));
  assert.deepEqual(Array.from(meta.gender), rows.map((r) => r.gender));
  assert.deepEqual(Array.from(meta.faceLocation), rows.flatMap((r) => [...r.faceLocation]));
  assert.deepEqual(Array.from(meta.faceScore), rows.map((r) => r.faceScore));
  assert.deepEqual(Array.from(meta.secondFaceScore), rows.map((r) => r.secondFaceScore));
}

for (const compress of [false, true]) {
  test(`writer round trip, wiki variant (${compress ? 'compressed' : 'plain'})`, async () => {
    const rows = await peopleRows();
    assert.ok(rows.length >= 100, `only ${rows.length} shared photos`);
    const file = path.join(tmp, `wiki-${compress}.mat`);
    await writeImdbWikiMat(file, rows, { variant: 'wiki', compress, compactNumbers: true });
    const meta = await readImdbWikiMetadata(file);
    assert.equal(meta.variant, 'wiki');
    assertSameRows(meta, rows);
    assert.equal(meta.celebId, undefined);
  });

  test(`writer round trip, imdb variant with celeb_names/celeb_id (${compress ? 'compressed' : 'plain'})`, async () => {
    const rows = await peopleRows();
    const file = path.join(tmp, `imdb-${compress}.mat`);
    // celeb_names is per person: the row without a name still belongs to its person.
    const people = [...new Set(rows.map((r) => r.fullPath.split('/')[1]!.split('__')[0]!))];
    const celebNames = people.map((p) => p.replaceAll('_', ' '));
    for (const r of rows) r.celebId = people.indexOf(r.fullPath.split('/')[1]!.split('__')[0]!) + 1;
    await writeImdbWikiMat(file, rows, { variant: 'imdb', compress, celebNames, endian: compress ? 'le' : 'be' });
    const meta = await readImdbWikiMetadata(file);
    assert.equal(meta.variant, 'imdb');
    assertSameRows(meta, rows);
    assert.deepEqual(meta.celebNames, celebNames);
    assert.deepEqual(Array.from(meta.celebId!), rows.map((r) => r.celebId));
    assert.equal(meta.name[1], '');
    assert.equal(nameOf(meta, 1), celebNames[meta.celebId![1]! - 1]); // falls back to celeb_names
    assert.equal(nameOf(meta, 2), 'Sami Jauhojärvi');
  });
}

test('each cleaning rule counts only what it removed, and the build can add its own', () => {
  const base: ImdbWikiRow = { fullPath: '00/a.jpg', name: 'A', dob: 720000, photoTaken: 2010, gender: 1, faceLocation: [1, 2, 3, 4], faceScore: 4, secondFaceScore: NaN };
  const rows: ImdbWikiRow[] = [
    { ...base, fullPath: '00/good.jpg' },
    { ...base, fullPath: '01/noface.jpg', faceScore: -Infinity },
    { ...base, fullPath: '02/weak.jpg', faceScore: 2.5 },
    { ...base, fullPath: '03/two.jpg', secondFaceScore: 1.2 },
    { ...base, fullPath: '04/anon.jpg', name: '  ' },
    { ...base, fullPath: './00/good.jpg' }, // same file as row 0
    { ...base, fullPath: '05/other.jpg', name: 'B' },
    { ...base, fullPath: '06/copy-of-other.jpg', name: 'B' },
  ];
  const meta = parseWiki(rows);
  const { kept, stats } = cleanMetadata(meta);
  assert.deepEqual(Array.from(kept), [0, 6, 7]);
  assert.deepEqual(stats.steps.map((s) => [s.rule, s.removed, s.keptAfter]), [
    ['noFace', 1, 7],
    ['lowFaceScore', 1, 6],
    ['multipleFaces', 1, 5],
    ['noName', 1, 4],
    ['duplicatePath', 1, 3],
  ]);

  // What the build job does next: drop missing files, then byte-identical duplicates.
  let rest = filterRows(kept, (r) => r !== 0, 'missingFile', 'image file not found', stats);
  rest = dropDuplicates(rest, () => 'same-sha256', 'duplicateBytes', 'same bytes as an earlier image', stats);
  assert.deepEqual(Array.from(rest), [6]);
  assert.equal(stats.kept, 1);
  assert.equal(stats.removedBy('duplicateBytes'), 1);
  assert.equal(stats.removedBy('missingFile'), 1);
  assert.equal(stats.removedBy('notRun'), 0);
  assert.deepEqual(stats.toJSON().steps.at(-1), { rule: 'duplicateBytes', description: 'same bytes as an earlier image', removed: 1, keptAfter: 1 });
  assert.match(stats.lines().join('\n'), /^rows: 8\n- noFace .*: 1 removed, 7 left\n[\s\S]*kept: 1$/);
  assert.throws(() => new CleaningStats(2).record('x', 'too many', 3), RangeError);

  const noRules = cleanMetadata(meta, { requireFace: false, minFaceScore: -Infinity, requireSingleFace: false, requireName: false, dropDuplicatePaths: false });
  assert.equal(noRules.kept.length, rows.length);
  assert.deepEqual(noRules.stats.steps, []);
  const keepTwoFaces = cleanMetadata(meta, { requireSingleFace: false, minFaceScore: 4.5 });
  assert.equal(keepTwoFaces.stats.removedBy('lowFaceScore'), 7);
});

function parseWiki(rows: ImdbWikiRow[]): ImdbWikiMetadata {
  // Through the real reader, from bytes the writer produced.
  return imdbWikiMetadataFromMat(parseMatFile(encodeImdbWikiMat(rows, { variant: 'wiki' })), 'rules.mat');
}

async function expectFormatError(name: string, bytes: Buffer, pattern: RegExp): Promise<void> {
  const file = path.join(tmp, name);
  await writeFile(file, bytes);
  await assert.rejects(readImdbWikiMetadata(file), (e: unknown) => {
    assert.ok(e instanceof MatFormatError, `${name}: expected MatFormatError, got ${String(e)}`);
    assert.equal(e.name, 'MatFormatError');
    assert.match(e.message, pattern);
    assert.ok(e.message.startsWith(file), `${name}: message should name the file: ${e.message}`);
    return true;
  });
}

test('files of the wrong structure are refused with a clear error', async () => {
  const rows = (await peopleRows()).slice(0, 5);
  let seed = 12345;
  const random = Buffer.from(Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff));
  await expectFormatError('random.mat', random, /not a MATLAB level-5 MAT-file/);
  await expectFormatError('empty.mat', Buffer.alloc(0), /not a MAT-file: 0 bytes/);
  await expectFormatError('matrix.mat', encodeMatFile({ wiki: mat.double([1, 2, 3, 4], [2, 2]) }), /'wiki' is double 2x2, expected a 1x1 struct/);
  await expectFormatError('other-name.mat', encodeMatFile({ faces: mat.double(1) }), /no variable named 'wiki' or 'imdb' \(variables: faces \(double 1x1\)\)/);
  await expectFormatError('no-score.mat', encodeImdbWikiMat(rows, { variant: 'wiki', omitFields: ['face_score'] }), /'wiki' struct lacks field face_score/);
  await expectFormatError('imdb-no-ids.mat', encodeImdbWikiMat(rows, { variant: 'imdb', omitFields: ['celeb_id', 'celeb_names'], compress: true }), /'imdb' struct lacks fields celeb_id, celeb_names/);
  await expectFormatError(
    'ragged.mat',
    encodeImdbWikiMat(rows, { variant: 'wiki', overrideFields: { gender: mat.double([1, 0, 1]) } }),
    /fields have different lengths: .*gender 3.*full_path 5/,
  );
  await expectFormatError(
    'bad-box.mat',
    encodeImdbWikiMat(rows, { variant: 'wiki', overrideFields: { face_location: mat.cell(rows.map((_, i) => mat.double(i === 2 ? [1, 2, 3] : [1, 2, 3, 4]))) } }),
    /wiki\.face_location\{3\} is double 1x3, expected 4 numbers/,
  );
  await expectFormatError(
    'bad-name.mat',
    encodeImdbWikiMat(rows, { variant: 'wiki', overrideFields: { name: mat.cell(rows.map((r, i) => (i === 4 ? mat.double(7) : mat.char(r.name)))) } }),
    /wiki\.name\{5\} is double 1x1, expected text/,
  );
  await expectFormatError(
    'bad-celeb-id.mat',
    encodeImdbWikiMat(rows.map((r) => ({ ...r, celebId: 9 })), { variant: 'imdb' }),
    /imdb\.celeb_id\(1\) is 9, expected an integer in 1\.\./,
  );
  await expectFormatError('struct-array.mat', encodeMatFile({ wiki: mat.struct([{ a: mat.double(1) }, { a: mat.double(2) }]) }), /struct array 1x2, expected 1x1/);
  const whole = encodeImdbWikiMat(rows, { variant: 'wiki' });
  await expectFormatError('truncated.mat', whole.subarray(0, whole.length - 100), /truncated/);
});
