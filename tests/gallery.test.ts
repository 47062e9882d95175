import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Gallery } from '../src/core/gallery.ts';
import { FaceRows } from '../src/core/galleryRows.ts';
import { l2Normalise } from '../src/core/similarity.ts';
import { IndexCorruptError } from '../src/core/errors.ts';
import { readWhole } from '../src/core/readWhole.ts';

function randomUnit(dims: number, seed: number): Float32Array {
  let s = seed;
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    v[i] = s / 2 ** 31 - 0.5;
  }
  return l2Normalise(v);
}

function near(v: Float32Array, amount: number, seed: number): Float32Array {
  const noise = randomUnit(v.length, seed);
  return l2Normalise(v.map((x, i) => x + amount * noise[i]!));
}

const info = { modelId: 'default', descriptor: 'test', dims: 32, detector: 'blazeface', alignment: 'keypoints' } as const;
const box = { x: 1, y: 2, width: 30, height: 40 };

test('gallery: search groups faces by identity, best face first, and survives save/open', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gallery-'));
  try {
    const alice = randomUnit(32, 1);
    const bob = randomUnit(32, 2);
    const g = Gallery.create(dir, info, 2); // capacity 2 forces a resize
    const a1 = g.add({ name: 'Alice', image: 'a1.jpg', box, source: 'cascade' }, near(alice, 0.1, 10), Buffer.from('thumb-a1'));
    g.add({ name: 'Alice', image: 'a2.jpg', box, source: 'cascade' }, near(alice, 0.3, 11));
    g.add({ name: 'Bob', image: 'b1.jpg', box, source: 'whole_image' }, near(bob, 0.1, 12), Buffer.from('thumb-b1'));
    await g.save();

    const opened = await Gallery.open(dir);
    assert.ok(opened.ok);
    const gallery = opened.value;
    assert.equal(gallery.size, 3);
    assert.equal(gallery.identityCount, 2);
    assert.deepEqual(gallery.info, { ...info, precision: 'fp32' });

    const hits = gallery.search(alice, 5);
    assert.deepEqual(hits.map((h) => h.name), ['Alice', 'Bob']);
    assert.equal(hits[0]!.faceId, a1, 'the closest of Alice\'s faces represents her');
    assert.ok(hits[0]!.similarity > 90 && hits[0]!.similarity <= 100);
    assert.deepEqual(hits[0]!.box, box);
    assert.equal(gallery.thumbnail(a1)?.toString(), 'thumb-a1');
    assert.equal(gallery.thumbnail(1), null);
    assert.equal(gallery.thumbnail(2)?.toString(), 'thumb-b1');
    assert.deepEqual(gallery.search(alice, 5, { exclude: (hit) => hit.name === 'Alice' }).map((h) => h.name), ['Bob']);
    assert.deepEqual(gallery.facesOf('Alice'), [0, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gallery: a missing index, an empty index and a corrupt one are told apart', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gallery-'));
  try {
    const missing = await Gallery.open(path.join(dir, 'nowhere'));
    assert.equal(!missing.ok && missing.error.code, 'no_index');

    await Gallery.create(dir, info).save();
    const empty = await Gallery.open(dir);
    assert.equal(!empty.ok && empty.error.code, 'empty_index');

    writeFileSync(path.join(dir, 'gallery.json'), '{ not json');
    await assert.rejects(Gallery.open(dir), IndexCorruptError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gallery: gender, photo year and age survive save/open; the gender filter answers only that gender; old rows read as unknown', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gallery-'));
  try {
    const g = Gallery.create(dir, info, 4);
    const centre = randomUnit(32, 7);
    // Twelve people around one point: the closest are men, the women further out, two of unknown gender closest of all.
    for (let i = 0; i < 12; i++) {
      const gender = i < 2 ? undefined : i < 7 ? ('male' as const) : ('female' as const);
      g.add({ name: `P${i}`, image: `${i}.jpg`, box, source: 'blazeface', ...(gender ? { gender } : {}), photoYear: 1990 + i, age: 20 + i }, near(centre, 0.05 + i * 0.05, 100 + i));
    }
    await g.save();
    const opened = await Gallery.open(dir);
    assert.ok(opened.ok);
    const gallery = opened.value;
    assert.deepEqual(gallery.genderCounts(), { female: 5, male: 5 });
    assert.deepEqual(gallery.face(3), { name: 'P3', image: '3.jpg', box, source: 'blazeface', gender: 'male', photoYear: 1993, age: 23 });
    const names = (hits: { name: string }[]) => hits.map((h) => h.name).sort();
    assert.deepEqual(names(gallery.search(centre, 5)), ['P0', 'P1', 'P2', 'P3', 'P4']);
    const women = gallery.search(centre, 5, { gender: 'female' });
    assert.deepEqual(names(women), ['P10', 'P11', 'P7', 'P8', 'P9'], 'five women although they are the farthest faces');
    assert.ok(women.every((h) => h.gender === 'female'));
    assert.deepEqual(names(gallery.search(centre, 5, { gender: 'male' })), ['P2', 'P3', 'P4', 'P5', 'P6']);

    // An index written before these fields: format 1, with 9-element rows in gallery.json.
    const file = path.join(dir, 'gallery.json');
    const meta = JSON.parse(readFileSync(file, 'utf8')) as { version: number; identities: string[]; faces?: unknown[][]; faceCount?: number; faceSources?: unknown };
    meta.faces = Array.from({ length: gallery.size }, (_, id) => {
      const f = gallery.face(id);
      return [meta.identities.indexOf(f.name), f.image, f.box.x, f.box.y, f.box.width, f.box.height, f.source, 0, 0];
    });
    meta.version = 1;
    delete meta.faceCount;
    delete meta.faceSources;
    writeFileSync(file, JSON.stringify(meta));
    const old = await Gallery.open(dir);
    assert.ok(old.ok);
    assert.deepEqual(old.value.face(3), { name: 'P3', image: '3.jpg', box, source: 'blazeface' });
    assert.deepEqual(old.value.genderCounts(), { female: 0, male: 0 });
    assert.deepEqual(old.value.search(centre, 5, { gender: 'female' }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gallery: faces.bin keeps every field (paths in any script, large thumbnail offsets); format-1 indexes still open; a damaged table is refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gallery-'));
  try {
    const g = Gallery.create(dir, info);
    const v = randomUnit(32, 3);
    g.add({ name: 'Zoë Ñandú', image: '/data/imdb_crop/01/Zoë_東京_😀.jpg', box: { x: -3, y: 7, width: 300, height: 301 }, source: 'metadata' }, v, Buffer.from('t1'));
    g.add({ name: 'Bob', image: 'b.jpg', box, source: 'blazeface' }, randomUnit(32, 4));
    await g.save();
    const opened = await Gallery.open(dir);
    assert.ok(opened.ok);
    assert.deepEqual(opened.value.face(0), { name: 'Zoë Ñandú', image: '/data/imdb_crop/01/Zoë_東京_😀.jpg', box: { x: -3, y: 7, width: 300, height: 301 }, source: 'metadata' });
    assert.deepEqual(opened.value.face(1), { name: 'Bob', image: 'b.jpg', box, source: 'blazeface' });
    assert.equal(opened.value.thumbnail(0)?.toString(), 't1');
    assert.deepEqual(opened.value.facesOf('Bob'), [1]);
    // thumbs.bin of IMDB's size passes 4 GiB: offsets are kept whole.
    const far = FaceRows.fromArray([[7, 'x.jpg', 1, 2, 3, 4, 'cascade', 5_000_000_123, 9]]).encode();
    assert.deepEqual(FaceRows.decode(far.bytes, far.sources, 'test').at(0), [7, 'x.jpg', 1, 2, 3, 4, 'cascade', 5_000_000_123, 9, null, null, null]);
    const meta = JSON.parse(readFileSync(path.join(dir, 'gallery.json'), 'utf8'));
    assert.equal(meta.version, 2);
    assert.equal(meta.faces, undefined, 'faces live in faces.bin, not in the JSON');

    // The same index written as format 1 (the faces as rows in gallery.json) opens the same way.
    const v1 = { ...meta, version: 1, faces: [[0, '/data/imdb_crop/01/Zoë_東京_😀.jpg', -3, 7, 300, 301, 'metadata', 0, 2], [1, 'b.jpg', 1, 2, 30, 40, 'blazeface', 0, 0]] };
    delete v1.faceCount;
    delete v1.faceSources;
    writeFileSync(path.join(dir, 'gallery.json'), JSON.stringify(v1));
    const old = await Gallery.open(dir);
    assert.ok(old.ok);
    assert.deepEqual(old.value.face(0), opened.value.face(0));
    assert.deepEqual(old.value.search(v, 1)[0]!.name, 'Zoë Ñandú');

    writeFileSync(path.join(dir, 'gallery.json'), JSON.stringify(meta));
    const faces = readFileSync(path.join(dir, 'faces.bin'));
    writeFileSync(path.join(dir, 'faces.bin'), faces.subarray(0, faces.length - 5));
    await assert.rejects(Gallery.open(dir), IndexCorruptError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gallery: an index read ahead (Gallery.prefetch) opens to the same faces; a missing one is left for open to report', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gallery-prefetch-'));
  try {
    const alice = randomUnit(32, 1);
    const g = Gallery.create(dir, info);
    for (let i = 0; i < 50; i++) g.add({ name: `Person ${i % 7}`, image: `p${i}.jpg`, box, source: 'cascade' }, near(alice, 0.05 * (i + 1), 100 + i));
    await g.save();
    const plain = await Gallery.open(dir);
    assert.ok(plain.ok);

    Gallery.prefetch(dir);
    const prefetched = await Gallery.open(dir);
    assert.ok(prefetched.ok);
    assert.equal(prefetched.value.size, 50);
    assert.deepEqual(prefetched.value.search(alice, 5), plain.value.search(alice, 5));
    // The read-ahead bytes are taken once: a later open reads the files again.
    const again = await Gallery.open(dir);
    assert.ok(again.ok);
    assert.deepEqual(again.value.search(alice, 3), plain.value.search(alice, 3));

    const missing = path.join(dir, 'nothing-here');
    Gallery.prefetch(missing);
    const opened = await Gallery.open(missing);
    assert.equal(opened.ok ? 'ok' : opened.error.code, 'no_index');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readWhole: a file read in parallel chunks is byte for byte the file; an empty file is empty; a missing one is refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'read-whole-'));
  try {
    const bytes = Buffer.from(Array.from({ length: 1_000_003 }, (_, i) => (i * 7919) % 251));
    const file = path.join(dir, 'data.bin');
    writeFileSync(file, bytes);
    for (const [parallel, chunkBytes] of [[1, 4096], [3, 65_536], [8, 1_000_000], [2, 10_000_000]] as const) {
      assert.ok((await readWhole(file, { parallel, chunkBytes })).equals(bytes), `parallel ${parallel}, chunks of ${chunkBytes}`);
    }
    writeFileSync(path.join(dir, 'empty.bin'), '');
    assert.equal((await readWhole(path.join(dir, 'empty.bin'))).length, 0);
    await assert.rejects(readWhole(path.join(dir, 'missing.bin')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
