import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { peopleDir, repoRoot } from './support/paths.ts';
import { loadConfig } from '../src/config.ts';
import { crc32 } from '../src/jobs/imdbWiki/crc32.ts';
import { nodeVersionProblem } from '../bin/nodeVersion.js';

test('shared photos are where the tests expect them', () => {
  assert.ok(existsSync(peopleDir), `missing ${peopleDir}`);
});

test('config rejects an unknown device and names the variable', () => {
  assert.throws(() => loadConfig({ LOOKALIKE_DEVICE: 'tpu' }), /LOOKALIKE_DEVICE/);
  assert.equal(loadConfig({}).device, 'auto');
});

test('config: a checkout whose path has a space still finds its models folder', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'lookalike checkout '));
  try {
    mkdirSync(path.join(root, 'src', 'core'), { recursive: true });
    cpSync(path.join(repoRoot, 'src', 'config.ts'), path.join(root, 'src', 'config.ts'));
    cpSync(path.join(repoRoot, 'src', 'core', 'errors.ts'), path.join(root, 'src', 'core', 'errors.ts'));
    const moved = (await import(pathToFileURL(path.join(root, 'src', 'config.ts')).href)) as typeof import('../src/config.ts');
    assert.equal(moved.loadConfig({}).modelsDir, path.join(root, 'models'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('start-up: Node older than package.json engines gets one clear line; the running Node passes', () => {
  const range = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(range, '>=20.9.0', 'sharp 0.35 needs 20.9; nothing in the code needs more');
  assert.match(nodeVersionProblem('20.8.1', range) ?? '', /needs Node\.js 20\.9\.0 or newer .* this is 20\.8\.1/);
  assert.match(nodeVersionProblem('18.20.4', range) ?? '', /needs Node\.js 20\.9\.0/);
  assert.equal(nodeVersionProblem('20.9.0', range), null);
  assert.equal(nodeVersionProblem('22.1.0', range), null);
  assert.equal(nodeVersionProblem(process.versions.node, range), null);
});

test('checkpoint CRC-32 is the standard one (node:zlib has crc32 only from Node 20.15)', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
  const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (zlibCrc32) {
    for (const size of [1, 100, 10_000]) {
      const data = randomBytes(size);
      assert.equal(crc32(data), zlibCrc32(data), `${size} random bytes`);
    }
  }
  const sources = readFileSync(path.join(repoRoot, 'src', 'jobs', 'imdbWiki', 'checkpoint.ts'), 'utf8');
  assert.doesNotMatch(sources, /from 'node:zlib'/);
});
