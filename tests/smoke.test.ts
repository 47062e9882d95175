import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { peopleDir } from './support/paths.ts';
import { loadConfig } from '../src/config.ts';

test('shared photos are where the tests expect them', () => {
  assert.ok(existsSync(peopleDir), `missing ${peopleDir}`);
});

test('config rejects an unknown device and names the variable', () => {
  assert.throws(() => loadConfig({ LOOKALIKE_DEVICE: 'tpu' }), /LOOKALIKE_DEVICE/);
  assert.equal(loadConfig({}).device, 'auto');
});
