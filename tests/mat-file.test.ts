import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MatFormatError, parseMatFile, readMatFile, type MatValue, type NumericData } from '../src/jobs/imdbWiki/matFile.ts';
import { encodeMatFile, mat, type MatWriteOptions } from './support/matWriter.ts';

// The generic level-5 reader against the test writer, in every storage variant the writer has.

const variants: Array<[string, MatWriteOptions]> = [
  ['plain', {}],
  ['compressed', { compress: true }],
  ['big-endian', { endian: 'be' }],
  ['big-endian compressed, compact numbers', { endian: 'be', compress: true, compactNumbers: true }],
  ['utf-8 chars, compact numbers', { charEncoding: 'utf8', compactNumbers: true }],
];

const sample = {
  scalar: mat.double(Math.PI),
  vec: mat.double([1, -2.5, NaN, -Infinity, Infinity, 0]),
  ints: mat.double([0, 1, 200, 255]), // stored as miUINT8 with compactNumbers
  wide: mat.double([-40000, 7, 123456]), // stored as miINT32 with compactNumbers
  matrix: mat.double([1, 2, 3, 4, 5, 6], [2, 3]),
  // Longer than the reader's in-place threshold: bulk copy, widening and byte swapping paths.
  longFractions: mat.double(Array.from({ length: 100 }, (_, i) => i / 7)),
  longInts: mat.double(Array.from({ length: 100 }, (_, i) => i * 300 - 5000)), // miINT16 when compact
  longI32: mat.numeric('int32', Array.from({ length: 50 }, (_, i) => i * 1e7 - 2e8)),
  i8: mat.numeric('int8', [-128, 0, 127]),
  u16: mat.numeric('uint16', [0, 65535]),
  i32: mat.numeric('int32', [-(2 ** 31), 2 ** 31 - 1]),
  u32: mat.numeric('uint32', [0, 2 ** 32 - 1]),
  single: mat.numeric('single', [1.5, -0.25]),
  i64: mat.numeric('int64', [-(2n ** 63n), 2n ** 53n + 1n]),
  u64: mat.numeric('uint64', [2n ** 64n - 1n]),
  cplx: mat.numeric('double', [1, 2], { imag: [3, -4] }),
  flags: mat.logical([true, false, true]),
  text: mat.char('Sami Jauhojärvi'),
  astral: mat.char('smile 😀 𝄞'),
  rows: mat.char(['abc', 'def']),
  none: mat.char(''),
  empty: mat.empty(),
  nested: mat.cell([mat.char('a'), mat.cell([mat.double([1, 2, 3, 4])]), mat.empty(), mat.struct({ k: mat.double(1) })]),
  people: mat.struct([
    { name: mat.char('Ann'), age: mat.double(30) },
    { name: mat.char('Bob'), age: mat.double(41) },
  ]),
};

/** Plain array of a typed array's values, for deepEqual. */
function values(data: NumericData | undefined): Array<number | bigint> {
  return Array.from((data ?? []) as ArrayLike<number | bigint>);
}

function need<K extends MatValue['kind']>(v: MatValue | undefined, kind: K): Extract<MatValue, { kind: K }> {
  assert.ok(v, 'value missing');
  assert.equal(v.kind, kind);
  return v as Extract<MatValue, { kind: K }>;
}

for (const [label, options] of variants) {
  test(`every supported kind of value round-trips (${label})`, () => {
    const file = parseMatFile(encodeMatFile(sample, options));
    const v = file.variables;
    assert.deepEqual([...v.keys()], Object.keys(sample));
    assert.equal(file.littleEndian, options.endian !== 'be');
    assert.match(file.headerText, /^MATLAB 5\.0 MAT-file/);

    const vec = need(v.get('vec'), 'numeric');
    assert.equal(vec.numericClass, 'double');
    assert.deepEqual(vec.dims, [1, 6]);
    assert.ok(vec.real instanceof Float64Array);
    assert.deepEqual(values(vec.real), [1, -2.5, NaN, -Infinity, Infinity, 0]);
    assert.deepEqual(values(need(v.get('scalar'), 'numeric').real), [Math.PI]);
    const ints = need(v.get('ints'), 'numeric');
    assert.ok(ints.real instanceof Float64Array, 'class double whatever the storage type');
    assert.deepEqual(values(ints.real), [0, 1, 200, 255]);
    assert.deepEqual(values(need(v.get('wide'), 'numeric').real), [-40000, 7, 123456]);
    assert.deepEqual(values(need(v.get('longFractions'), 'numeric').real), Array.from({ length: 100 }, (_, i) => i / 7));
    const longInts = need(v.get('longInts'), 'numeric');
    assert.ok(longInts.real instanceof Float64Array);
    assert.deepEqual(values(longInts.real), Array.from({ length: 100 }, (_, i) => i * 300 - 5000));
    assert.deepEqual(values(need(v.get('longI32'), 'numeric').real), Array.from({ length: 50 }, (_, i) => i * 1e7 - 2e8));
    const m = need(v.get('matrix'), 'numeric');
    assert.deepEqual(m.dims, [2, 3]);
    assert.deepEqual(values(m.real), [1, 2, 3, 4, 5, 6]);

    const i8 = need(v.get('i8'), 'numeric');
    assert.ok(i8.real instanceof Int8Array);
    assert.deepEqual(values(i8.real), [-128, 0, 127]);
    assert.ok(need(v.get('u16'), 'numeric').real instanceof Uint16Array);
    assert.deepEqual(values(need(v.get('i32'), 'numeric').real), [-(2 ** 31), 2 ** 31 - 1]);
    assert.deepEqual(values(need(v.get('u32'), 'numeric').real), [0, 2 ** 32 - 1]);
    const single = need(v.get('single'), 'numeric');
    assert.equal(single.numericClass, 'single');
    assert.deepEqual(values(single.real), [1.5, -0.25]);
    assert.deepEqual(values(need(v.get('i64'), 'numeric').real), [-(2n ** 63n), 2n ** 53n + 1n]);
    assert.deepEqual(values(need(v.get('u64'), 'numeric').real), [2n ** 64n - 1n]);
    const cplx = need(v.get('cplx'), 'numeric');
    assert.deepEqual(values(cplx.real), [1, 2]);
    assert.deepEqual(values(cplx.imag), [3, -4]);
    const flags = need(v.get('flags'), 'numeric');
    assert.equal(flags.logical, true);
    assert.equal(flags.numericClass, 'uint8');
    assert.deepEqual(values(flags.real), [1, 0, 1]);

    assert.equal(need(v.get('text'), 'char').text, 'Sami Jauhojärvi');
    assert.equal(need(v.get('astral'), 'char').text, 'smile 😀 𝄞');
    const rows = need(v.get('rows'), 'char');
    assert.deepEqual(rows.dims, [2, 3]);
    assert.deepEqual(rows.rows, ['abc', 'def']);
    const none = need(v.get('none'), 'char');
    assert.equal(none.text, '');
    assert.deepEqual(none.dims, [0, 0]);
    assert.equal(need(v.get('empty'), 'numeric').real.length, 0);

    const nested = need(v.get('nested'), 'cell');
    assert.equal(nested.length, 4);
    assert.equal(need(nested.get(0), 'char').text, 'a');
    assert.deepEqual(values(need(need(nested.get(1), 'cell').get(0), 'numeric').real), [1, 2, 3, 4]);
    assert.deepEqual(need(nested.get(2), 'numeric').dims, [0, 0]);
    assert.deepEqual(values(need(need(nested.get(3), 'struct').get('k'), 'numeric').real), [1]);
    assert.throws(() => nested.get(4), RangeError);

    const people = need(v.get('people'), 'struct');
    assert.deepEqual(people.dims, [1, 2]);
    assert.deepEqual(people.fieldNames, ['name', 'age']);
    assert.equal(need(people.get('name', 1), 'char').text, 'Bob');
    assert.deepEqual(values(need(people.get('age', 0), 'numeric').real), [30]);
    assert.throws(() => people.get('height'), (e: unknown) => e instanceof MatFormatError && /no field 'height'.*name, age/.test(e.message));
  });
}

test('readMatFile (streamed inflate) and parseMatFile agree', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'matfile-'));
  try {
    const file = path.join(dir, 'sample.mat');
    const bytes = encodeMatFile(sample, { compress: true });
    await writeFile(file, bytes);
    const fromDisk = await readMatFile(file);
    const inMemory = parseMatFile(bytes);
    assert.deepEqual([...fromDisk.variables.keys()], [...inMemory.variables.keys()]);
    assert.deepEqual(values(need(fromDisk.variables.get('vec'), 'numeric').real), values(need(inMemory.variables.get('vec'), 'numeric').real));
    assert.equal(need(need(fromDisk.variables.get('people'), 'struct').get('name', 1), 'char').text, 'Bob');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseMatFile(bytes, { source: 'bad.mat' }),
    (e: unknown) => e instanceof MatFormatError && e.name === 'MatFormatError' && pattern.test(e.message) && e.message.startsWith('bad.mat: '),
  );
}

test('bytes that are not a level-5 MAT-file are refused with a reason', () => {
  rejects(Buffer.from('hello'), /shorter than the 128-byte header/);
  rejects(Buffer.alloc(4096, 7), /not a MATLAB level-5 MAT-file/);
  const v73 = encodeMatFile({ x: mat.double(1) });
  v73.writeUInt16LE(0x0200, 124);
  rejects(v73, /version 7\.3 \(HDF5\) is not supported/);
});

test('damaged files are refused, naming the problem', () => {
  const whole = encodeMatFile({ x: mat.double([1, 2, 3]) });
  rejects(whole.subarray(0, whole.length - 12), /truncated/);

  const compressed = encodeMatFile({ x: mat.double([1, 2, 3]) }, { compress: true });
  compressed.fill(0x55, 140, 150); // inside the zlib stream
  rejects(compressed, /cannot inflate miCOMPRESSED data/);

  const sparse = encodeMatFile({ s: mat.double([1, 2]) });
  sparse[128 + 8 + 8] = 5; // class byte of the array flags: mxSPARSE
  rejects(sparse, /s: sparse arrays are not supported/);

  const opaque = encodeMatFile({ o: mat.double([1, 2]) });
  opaque[128 + 8 + 8] = 17; // mxOPAQUE, e.g. a MATLAB string
  rejects(opaque, /not supported/);

  const wrongSize = encodeMatFile({ w: mat.double([1, 2]) });
  // dims element: tag (8) after flags element (16) after matrix tag (8): claim 1x3.
  wrongSize.writeInt32LE(3, 128 + 8 + 16 + 8 + 4);
  rejects(wrongSize, /w: real part has 16 bytes of miDOUBLE, expected 3 elements/);

  const stray = Buffer.concat([encodeMatFile({}), Buffer.from([9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
  rejects(stray, /top-level element at byte 128 is miDOUBLE, expected miMATRIX or miCOMPRESSED/);
});
