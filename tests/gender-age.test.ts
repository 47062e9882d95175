import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { indexDir, openEngine, tryOpenEngine } from '../src/core/engine.ts';
import type { MatchReport } from '../src/core/engineTypes.ts';
import { Gallery } from '../src/core/gallery.ts';
import { plausiblePhotoAge } from '../src/core/matchOf.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { buildIndex } from '../src/jobs/buildIndex.ts';
import { parsePeopleCsv } from '../src/jobs/peopleCsv.ts';
import { lookalike } from './support/cli.ts';
import { config } from './support/engine.ts';
import { buildGenderedGallery, displayName, faceRow, MEN, selfieOf, UNKNOWN_GENDER, WOMEN, type GenderedGallery } from './support/genderedGallery.ts';
import { peopleDir } from './support/paths.ts';

// Whom to be compared with (the gender filter inside the HNSW search) and the celebrity's age in the
// matched photo, on an IMDB-WIKI-layout gallery whose rows carry gender, dob and photo_taken; the
// folder gallery's people.csv and EXIF dates; group photos with more faces than are matched.

let g: GenderedGallery;

before(async () => {
  g = await buildGenderedGallery();
});

after(async () => {
  await g?.close();
});

const women = new Set(WOMEN.map(displayName));
const men = new Set(MEN.map(displayName));

async function match(person: string, opts: Parameters<GenderedGallery['engine']['match']>[1] = {}): Promise<MatchReport> {
  const result = await g.engine.match(await readFile(selfieOf(person)), { composite: false, ...opts });
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  return result.value;
}

describe('whom to be compared with', () => {
  test('the index records gender from the metadata: rows without it are kept, as unknown', async () => {
    const gallery = await Gallery.open(indexDir(g.dataDir));
    assert.ok(gallery.ok);
    const counts = gallery.value.genderCounts();
    const rows = g.tree.rows;
    assert.equal(counts.female, rows.filter((r) => r.gender === 0).length);
    assert.equal(counts.male, rows.filter((r) => r.gender === 1).length);
    assert.equal(gallery.value.size, rows.length, 'the unknown-gender rows are in the index too');
  });

  test('women only, for a man: five results, every one a woman; men only: five men; everyone may include the unknown', async () => {
    for (const person of ['Barack_Obama', 'Jim_Parsons']) {
      const female = (await match(person, { gender: 'female' })).faces[0]!.matches;
      assert.equal(female.length, 5, `${person}, women only: ${female.map((m) => m.name).join(', ')}`);
      assert.ok(female.every((m) => women.has(m.name) && m.gender === 'female'), female.map((m) => m.name).join(', '));
      for (const m of female) assert.equal(g.rowOf(m.image).gender, 0, `${m.name}'s row is a woman's`);
      const male = (await match(person, { gender: 'male' })).faces[0]!.matches;
      assert.equal(male.length, 5);
      assert.ok(male.every((m) => men.has(m.name)), male.map((m) => m.name).join(', '));
      assert.equal(male[0]!.name, displayName(person), 'the filter keeps the right answer when it is allowed');
    }
    const woman = (await match('Kaley_Cuoco', { gender: 'male' })).faces[0]!.matches;
    assert.equal(woman.length, 5);
    assert.ok(woman.every((m) => men.has(m.name)));
    // Everyone: the unknown-gender people can appear (their faces are in the index), and the person is found.
    const everyone = await match('deepface_person_01', { top: 16 });
    const names = everyone.faces[0]!.matches.map((m) => m.name);
    assert.ok(names.includes(displayName(UNKNOWN_GENDER[0]!)), names.join(', '));
    const filtered = (await match('deepface_person_01', { top: 16, gender: 'male' })).faces[0]!.matches.map((m) => m.name);
    assert.ok(!filtered.some((n) => UNKNOWN_GENDER.map(displayName).includes(n)), 'unknown gender is shown only for everyone');
  });

  test('the command line: --gender female answers women only, with the gender in the JSON', async () => {
    const ran = await lookalike(['match', selfieOf('Joe_Biden'), '--json', '--gender', 'female', '--data', g.dataDir]);
    assert.equal(ran.code, 0, ran.stderr);
    const out = JSON.parse(ran.stdout) as { faces: { matches: { name: string; gender?: string }[] }[] };
    const matches = out.faces[0]!.matches;
    assert.equal(matches.length, 5);
    assert.ok(matches.every((m) => m.gender === 'female' && women.has(m.name)), JSON.stringify(matches));
    const wrong = await lookalike(['match', selfieOf('Joe_Biden'), '--gender', 'woman', '--data', g.dataDir]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /female, male/);
  });
});

describe("the celebrity's age in the matched photo", () => {
  test('each match carries the year of its photo and the age then, as the fixture rows give them', async () => {
    let shown = 0;
    for (const person of ['Angelina_Jolie', 'Jim_Parsons', 'Kunal_Nayyar']) {
      for (const m of (await match(person)).faces[0]!.matches) {
        const row = g.rowOf(m.image);
        if (plausiblePhotoAge(row.photoYear, row.age)) {
          assert.equal(m.photoYear, row.photoYear, m.name);
          assert.equal(m.age, row.age, m.name);
          shown++;
        } else {
          assert.equal(m.age, undefined, `${m.name}: an implausible age is not shown`);
        }
      }
    }
    assert.ok(shown >= 10, `ages shown: ${shown}`);
  });

  test('a row whose photo predates the birth shows no age', async () => {
    const biden = (await match('Joe_Biden')).faces[0]!.matches[0]!;
    assert.equal(biden.name, 'Joe Biden');
    const row = g.rowOf(biden.image);
    assert.equal(row.photoYear, 1900);
    assert.ok(row.age < 0);
    assert.equal(biden.photoYear, undefined);
    assert.equal(biden.age, undefined);
  });

  test('plausible means whole numbers, an age of 0 to 100 and a year a photo can have', () => {
    assert.deepEqual(plausiblePhotoAge(1993, 37), { photoYear: 1993, age: 37 });
    assert.equal(plausiblePhotoAge(1993, 101), undefined);
    assert.equal(plausiblePhotoAge(1993, -1), undefined);
    assert.equal(plausiblePhotoAge(1700, 30), undefined);
    assert.equal(plausiblePhotoAge(2999, 30), undefined);
    assert.equal(plausiblePhotoAge(undefined, 30), undefined);
  });
});

describe('group photos with more faces than are matched', () => {
  const row = ['Barack_Obama', 'Kaley_Cuoco', 'Jim_Parsons', 'Mayim_Bialik', 'Kunal_Nayyar', 'Melissa_Rauch', 'Johnny_Galecki', 'Angelina_Jolie'];

  test('eight faces in a row: six matched, eight counted; face N is the Nth from the left; centre is the middle one', async () => {
    const photo = await faceRow(row.map(selfieOf));
    const all = await g.engine.match(photo, { composite: true });
    assert.ok(all.ok, all.ok ? '' : all.error.message);
    assert.equal(all.value.facesFound, 8);
    assert.equal(all.value.faces.length, 6);
    for (const face of all.value.faces) assert.equal(face.matches[0]!.name, displayName(row[face.number! - 1]!), `face ${face.number}`);
    for (const n of [7, 8, 1]) {
      const one = await g.engine.match(photo, { composite: false, face: n });
      assert.ok(one.ok);
      assert.equal(one.value.faces.length, 1);
      assert.equal(one.value.faces[0]!.number, n);
      assert.equal(one.value.faces[0]!.matches[0]!.name, displayName(row[n - 1]!));
      assert.equal(one.value.facesFound, 8);
    }
    const three = await g.engine.match(await faceRow(row.slice(0, 3).map(selfieOf)), { composite: false, face: 'centre' });
    assert.ok(three.ok);
    assert.equal(three.value.faces[0]!.matches[0]!.name, displayName(row[1]!));
    const none = await g.engine.match(photo, { composite: false, face: 9 });
    assert.ok(!none.ok);
    assert.equal(none.error.code, 'no_such_face');
    assert.equal(none.error.faces, 8);
  });
});

describe('folder galleries: people.csv and EXIF dates', () => {
  let work: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'lookalike-people-csv-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('people.csv is read strictly: a bad line is named, nothing is built', async () => {
    assert.deepEqual(
      [...(parsePeopleCsv('name,gender,birth_year\nBarack_Obama,male,1961\n"Cuoco, Kaley",F,\nNobody,,\n') as { ok: true; value: Map<string, unknown> }).value],
      [
        ['Barack Obama', { gender: 'male', birthYear: 1961 }],
        ['Cuoco, Kaley', { gender: 'female' }],
        ['Nobody', {}],
      ],
    );
    for (const [csv, why] of [
      ['gender,birth_year\nx,1', /line 1: the header/],
      ['name,gender\nA,robot', /line 2: gender "robot"/],
      ['name,birth_year\nA,19x1', /line 2: birth_year "19x1"/],
      ['name,gender\nA,f\nA,m', /line 3: A is listed twice/],
      ['name,gender\n"A,f', /line 2: unbalanced quotes/],
    ] as const) {
      const parsed = parsePeopleCsv(csv);
      assert.ok(!parsed.ok && parsed.error.code === 'bad_metadata', csv);
      assert.match(parsed.error.message, why);
    }
    const folder = path.join(work, 'bad');
    mkdirSync(path.join(folder, 'Joe_Biden'), { recursive: true });
    symlinkSync(path.join(peopleDir, 'Joe_Biden', 'face_recognition__biden.jpg'), path.join(folder, 'Joe_Biden', 'a.jpg'));
    writeFileSync(path.join(folder, 'people.csv'), 'name,gender\nJoe_Biden,robot\n');
    const dataDir = path.join(work, 'bad-data');
    const built = await buildIndex({ folder, dataDir, modelsDir: config.modelsDir, device: 'cpu' });
    assert.ok(!built.ok);
    assert.match(built.error.message, /people\.csv line 2: gender "robot"/);
    assert.ok(!existsSync(indexDir(dataDir)), 'no index was written');
  });

  test("gender and birth year from people.csv, the photo's year from its EXIF date; no gender metadata: women-only is refused politely", async () => {
    const folder = path.join(work, 'gallery');
    for (const person of ['Barack_Obama', 'Kaley_Cuoco', 'Jim_Parsons']) {
      const first = readdirSync(path.join(peopleDir, person)).sort()[0]!;
      mkdirSync(path.join(folder, person), { recursive: true });
      symlinkSync(path.join(peopleDir, person, first), path.join(folder, person, `a${path.extname(first)}`));
    }
    // One photo with an EXIF date, written here (a copy in the temporary folder, never in the project).
    mkdirSync(path.join(folder, 'Joe_Biden'), { recursive: true });
    await sharp(path.join(peopleDir, 'Joe_Biden', 'face_recognition__biden.jpg'))
      .withExif({ IFD0: { DateTime: '2012:05:04 10:00:00' }, IFD2: { DateTimeOriginal: '2012:05:04 10:00:00' } })
      .jpeg()
      .toFile(path.join(folder, 'Joe_Biden', 'dated.jpg'));
    const withoutCsv = path.join(work, 'data-plain');
    const plain = await buildIndex({ folder, dataDir: withoutCsv, modelsDir: config.modelsDir, device: 'cpu' });
    assert.ok(plain.ok, plain.ok ? '' : plain.error.message);
    const plainEngine = await openEngine({ dataDir: withoutCsv, modelsDir: config.modelsDir, device: 'cpu' });
    try {
      const refused = await plainEngine.match(await readFile(selfieOf('Joe_Biden')), { composite: false, gender: 'female' });
      assert.ok(!refused.ok);
      assert.equal(refused.error.code, 'gender_unavailable');
    } finally {
      await plainEngine.close();
    }

    writeFileSync(path.join(folder, 'people.csv'), 'name,gender,birth_year\nBarack_Obama,male,1961\nKaley_Cuoco,female,1985\nJoe_Biden,male,1942\n');
    const dataDir = path.join(work, 'data');
    const built = await buildIndex({ folder, dataDir, modelsDir: config.modelsDir, device: 'cpu' });
    assert.ok(built.ok, built.ok ? '' : built.error.message);
    const engine = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
    assert.ok(engine.ok);
    try {
      const biden = await engine.value.match(await readFile(path.join(peopleDir, 'Joe_Biden', 'face_recognition__biden2.jpg')), { composite: false });
      assert.ok(biden.ok);
      const top = biden.value.faces[0]!.matches[0]!;
      assert.equal(top.name, 'Joe Biden');
      assert.equal(top.gender, 'male');
      assert.equal(top.photoYear, 2012);
      assert.equal(top.age, 2012 - 1942);
      const women = await engine.value.match(await readFile(selfieOf('Kaley_Cuoco')), { composite: false, gender: 'female' });
      assert.ok(women.ok);
      assert.deepEqual(women.value.faces[0]!.matches.map((m) => m.name), ['Kaley Cuoco'], 'only the one woman; Jim Parsons has no gender in people.csv');
    } finally {
      await engine.value.close();
    }
  });
});

