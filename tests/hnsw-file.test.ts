import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IndexCorruptError } from '../src/core/errors.ts';
import { VectorIndex } from '../src/core/runtime/hnsw.ts';
import { l2Normalise } from '../src/core/similarity.ts';
import { rng } from './support/vggFace.ts';

// The engine searches saved indexes with its own reader of hnswlib's file format (src/core/hnswFile.ts):
// it must find what hnswlib finds in the same file, and refuse what is not such a file.

function vectors(count: number, dims: number, seed: number): Float32Array[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => l2Normalise(Float32Array.from({ length: dims }, () => next() - 0.5)));
}

test('the file reader finds what hnswlib finds in the same index, neighbour for neighbour', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hnsw-file-'));
  try {
    const dims = 24;
    const built = VectorIndex.create(dims, 16);
    // Enough elements for several layers (M 16: about one in 16 reaches layer 1).
    const stored = vectors(6000, dims, 1);
    stored.forEach((v, i) => built.add(v, i));
    const file = path.join(dir, 'faces.hnsw');
    await built.save(file);

    const theirs = await VectorIndex.loadWritable(file, dims);
    const ours = await VectorIndex.load(file, dims);
    assert.equal(ours.count, 6000);
    let same = 0;
    let sameTop1 = 0;
    const queries = vectors(300, dims, 2);
    for (const q of queries) {
      const a = theirs.search(q, 10);
      const b = ours.search(q, 10);
      if (a.map((n) => n.label).join() === b.map((n) => n.label).join()) same++;
      if (a[0]!.label === b[0]!.label) sameTop1++;
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]!.cosine - b[i]!.cosine) < 1e-4 || a[i]!.label !== b[i]!.label);
    }
    assert.ok(sameTop1 >= 299, `top-1 agreed on ${sameTop1} of 300 queries`);
    assert.ok(same >= 295, `the ten neighbours agreed on ${same} of 300 queries`);
    assert.deepEqual(Array.from(ours.vector(1234)).map((x) => x.toFixed(5)), Array.from(theirs.vector(1234)).map((x) => x.toFixed(5)));

    // Filtered inside the search (a gender setting): one label in three allowed, k answers whenever k are
    // allowed, and the same ones hnswlib's filtered search gives.
    const allow = (label: number) => label % 3 === 0;
    let sameFiltered = 0;
    for (const q of queries) {
      const a = theirs.search(q, 10, allow);
      const b = ours.search(q, 10, allow);
      assert.equal(b.length, 10);
      assert.ok(b.every((n) => allow(n.label)));
      if (a.map((n) => n.label).join() === b.map((n) => n.label).join()) sameFiltered++;
    }
    assert.ok(sameFiltered >= 295, `filtered: the ten neighbours agreed on ${sameFiltered} of 300 queries`);
    const none = ours.search(queries[0]!, 10, () => false);
    assert.deepEqual(none, []);
    assert.throws(() => ours.add(queries[0]!, 6000), /searching only/);

    // Labels other than 0..n-1 (not what a gallery writes) are still found.
    const other = VectorIndex.create(dims, 16);
    stored.slice(0, 50).forEach((v, i) => other.add(v, 1000 + 3 * i));
    const otherFile = path.join(dir, 'other.hnsw');
    await other.save(otherFile);
    const otherOurs = await VectorIndex.load(otherFile, dims);
    assert.deepEqual(Array.from(otherOurs.vector(1000 + 3 * 7)).map((x) => x.toFixed(5)), Array.from(stored[7]!).map((x) => x.toFixed(5)));
    assert.equal(otherOurs.search(stored[7]!, 1)[0]!.label, 1000 + 3 * 7);
    assert.throws(() => otherOurs.vector(1001), RangeError);

    // Cut short or not an index at all: refused as a corrupt index.
    const cut = path.join(dir, 'cut.hnsw');
    writeFileSync(cut, readFileSync(file).subarray(0, 50_000));
    await assert.rejects(VectorIndex.load(cut, dims), IndexCorruptError);
    await assert.rejects(VectorIndex.load(file, dims + 1), IndexCorruptError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
