import assert from 'node:assert/strict';

// What a log must never hold: a picture's bytes in any of the shapes a JSON logger gives them, or a secret.

export function assertNoSecrets(log: string, secrets: readonly string[]): void {
  // A Buffer serialised by JSON.stringify: {"type":"Buffer","data":[255,216,255,...]}; a JPEG starts FF D8 FF.
  assert.doesNotMatch(log, /\[\s*255\s*,\s*216\s*,\s*255/, 'JPEG bytes as a number array');
  assert.doesNotMatch(log, /"type"\s*:\s*"Buffer"/, 'a serialised Buffer');
  assert.doesNotMatch(log, /(\d{1,3}\s*,\s*){64,}/, 'a long run of byte values');
  assert.doesNotMatch(log, /[A-Za-z0-9+/]{200,}={0,2}/, 'a base64 run');
  assert.doesNotMatch(log, /\\u00ff\\u00d8|\xff\xd8\xff/, 'raw JPEG magic');
  for (const secret of secrets) assert.ok(!log.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the log`);
}
