import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Gallery } from '../src/core/gallery.ts';
import { l2Normalise } from '../src/core/similarity.ts';
import { IndexCorruptError } from '../src/core/errors.ts';

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
    assert.deepEqual(gallery.info, info);

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
