import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeImage } from '../src/core/decode.ts';
import type { FailureCode, Result } from '../src/core/result.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { decodeFrames } from '../src/core/video/ffmpegFrames.ts';
import { VIDEO_DEFAULTS } from '../src/core/video/matchVideo.ts';
import { MatFormatError, parseMatFile } from '../src/jobs/imdbWiki/matFile.ts';
import { decodeBounded } from '../src/jobs/pool/boundedDecode.ts';
import { encodeMatFile, mat } from './support/matWriter.ts';
import { facesDir } from './support/paths.ts';
import { rng } from './support/vggFace.ts';

// Seeded fuzzing of the parsers that read untrusted bytes: the photo decoder (both of them), the
// MAT-file reader and the video decoder. Every case must end, within a time bound, in a result or a
// typed failure: no other exception, no crash, no hang. LOOKALIKE_FUZZ_SEED=<n> replays or explores
// another seed; every failure message names the seed and the case.

const SEED = Number(process.env.LOOKALIKE_FUZZ_SEED ?? 20_251_130);
process.stderr.write(`fuzz seed ${SEED} (replay with LOOKALIKE_FUZZ_SEED=${SEED})\n`);

const work = mkdtempSync(path.join(tmpdir(), 'lookalike-fuzz-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A case that has neither settled nor thrown after `ms` fails as a hang. */
async function within<T>(ms: number, what: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([run(), hang]);
  } finally {
    clearTimeout(timer);
  }
}

type Mutation = { name: string; bytes: Uint8Array };

/** Truncations, bit flips (anywhere, or in the header), byte runs overwritten, and splices of two files. */
function mutate(source: Uint8Array, other: Uint8Array, next: () => number): Mutation {
  const pick = (n: number) => Math.floor(next() * n);
  const out = Buffer.from(source);
  switch (pick(6)) {
    case 0: {
      const at = pick(source.length);
      return { name: `truncated at ${at}`, bytes: out.subarray(0, at) };
    }
    case 1: {
      const flips = 1 + pick(8);
      for (let i = 0; i < flips; i++) out[pick(out.length)]! ^= 1 << pick(8);
      return { name: `${flips} bit flips`, bytes: out };
    }
    case 2: {
      // The header decides sizes and offsets: flip bits where they are.
      const span = Math.min(out.length, 256);
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) out[pick(span)]! ^= 1 << pick(8);
      return { name: `${flips} header bit flips`, bytes: out };
    }
    case 3: {
      const at = pick(out.length);
      const len = 1 + pick(64);
      const value = [0x00, 0xff, 0x7f, 0x80][pick(4)]!;
      out.fill(value, at, Math.min(out.length, at + len));
      return { name: `${len} bytes at ${at} set to ${value}`, bytes: out };
    }
    case 4: {
      const cut = pick(source.length);
      const from = pick(other.length);
      return { name: `spliced at ${cut} with the other file from ${from}`, bytes: Buffer.concat([source.subarray(0, cut), other.subarray(from)]) };
    }
    default: {
      const at = pick(source.length);
      const len = 1 + pick(256);
      const from = pick(Math.max(1, other.length - len));
      return { name: `${len} bytes of the other file inserted at ${at}`, bytes: Buffer.concat([source.subarray(0, at), other.subarray(from, from + len), source.subarray(at)]) };
    }
  }
}

const DECODE_FAILURES = new Set<FailureCode>(['empty_file', 'file_too_large', 'too_many_pixels', 'not_an_image', 'corrupt_image']);

function assertTyped(result: Result<unknown>, allowed: ReadonlySet<FailureCode>, what: string): void {
  if (result.ok) return;
  assert.ok(allowed.has(result.error.code), `${what}: unexpected failure code ${result.error.code} (${result.error.message})`);
  assert.ok(result.error.message.length > 0, `${what}: a failure without a message`);
}

describe(`fuzzing, seed ${SEED}`, () => {
  const sources: { format: string; bytes: Buffer }[] = [];
  before(async () => {
    const jpeg = readFileSync(path.join(facesDir, 'scenes', 'faceapi_bbt__angry_cropped.jpg'));
    const png = readFileSync(path.join(facesDir, 'validation', 'Daniel_Radcliffe', 'glint360k__255.png'));
    const webp = readFileSync(path.join(facesDir, 'validation', 'Roger_Federer', 'codebasics-sports__1163381732-850x560.webp'));
    // The shared set has no GIF: one made from a shared photo, two frames so the animation paths run too.
    const frame = await sharp(jpeg).resize(96, 96).raw().toBuffer();
    const gif = await sharp(Buffer.concat([frame, Buffer.from(frame).reverse()]), { raw: { width: 96, height: 192, channels: 3, pageHeight: 96 } })
      .gif({ loop: 0, delay: [100, 100] })
      .toBuffer();
    sources.push({ format: 'jpeg', bytes: jpeg }, { format: 'png', bytes: png }, { format: 'webp', bytes: webp }, { format: 'gif', bytes: gif });
  });

  test('photo decoder: 2,400 truncated, bit-flipped and spliced JPEG, PNG, WebP and GIF files', { timeout: 300_000 }, async () => {
    const next = rng(SEED);
    const outcomes = new Map<string, number>();
    const CASES = 2400;
    for (let i = 0; i < CASES; i++) {
      const source = sources[i % sources.length]!;
      const other = sources[Math.floor(next() * sources.length)]!;
      const m = mutate(source.bytes, other.bytes, next);
      const what = `seed ${SEED} case ${i} (${source.format}, ${m.name})`;
      let result: Result<unknown>;
      try {
        result = await within(10_000, what, () => decodeImage(m.bytes, { maxPixels: 8_000_000 }));
      } catch (err) {
        assert.fail(`${what}: threw ${(err as Error).stack ?? String(err)}`);
      }
      assertTyped(result, DECODE_FAILURES, what);
      if (i % 3 === 0) {
        // The index build's decoder reads dataset files the same way.
        let bounded: Result<unknown>;
        try {
          bounded = await within(10_000, `${what}, index-build decoder`, () => decodeBounded(m.bytes, 480, 8_000_000));
        } catch (err) {
          assert.fail(`${what}, index-build decoder: threw ${(err as Error).stack ?? String(err)}`);
        }
        assertTyped(bounded, DECODE_FAILURES, `${what}, index-build decoder`);
      }
      const key = result.ok ? 'decoded' : result.error.code;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    // The mutations must reach both sides: some files still decode, many are refused.
    assert.ok((outcomes.get('decoded') ?? 0) > 100, `seed ${SEED}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.ok((outcomes.get('corrupt_image') ?? 0) > 100, `seed ${SEED}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });

  test('MAT-file reader: 3,000 mutations of small .mat files, plain and compressed, either endianness', { timeout: 120_000 }, () => {
    const variables = {
      name: mat.cell([mat.char('Ann Example'), mat.char('Bob Example')]),
      face_score: mat.double([4.5, -Infinity]),
      face_location: mat.cell([mat.double([1, 2, 30, 40]), mat.double([5, 6, 70, 80])]),
      dob: mat.double([723671, 711362]),
      people: mat.struct([
        { full_path: mat.char('01/a.jpg'), gender: mat.double(1) },
        { full_path: mat.char('02/b.jpg'), gender: mat.double(NaN) },
      ]),
      ids: mat.numeric('int32', [1, 2, 3, 4]),
    };
    const files = [encodeMatFile(variables), encodeMatFile(variables, { compress: true }), encodeMatFile(variables, { endian: 'be', compactNumbers: true })];
    for (const f of files) assert.equal(parseMatFile(f).variables.size, 6, 'the unmutated files parse');
    const next = rng(SEED + 1);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const source = files[i % files.length]!;
      const m = mutate(source, files[Math.floor(next() * files.length)]!, next);
      const what = `seed ${SEED + 1} case ${i} (file ${i % files.length}, ${m.name})`;
      const started = performance.now();
      try {
        parseMatFile(m.bytes, { source: 'fuzz.mat' });
      } catch (err) {
        assert.ok(err instanceof MatFormatError, `${what}: threw ${(err as Error).name}: ${(err as Error).message}`);
        assert.match(err.message, /^fuzz\.mat: /, `${what}: the message names the file`);
        refused++;
      }
      // Synchronous: a hang would stop the whole run, so each case is also held to a time.
      assert.ok(performance.now() - started < 2000, `${what}: took ${(performance.now() - started).toFixed(0)} ms`);
    }
    assert.ok(refused > 500, `seed ${SEED + 1}: only ${refused} of 3000 mutations were refused`);
  });

  test('video decoder: 48 MP4s with mutated headers, index first and last', { timeout: 300_000 }, async () => {
    const faststart = path.join(work, 'small-faststart.mp4');
    const indexLast = path.join(work, 'small-last.mp4');
    const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=96x64:r=8:d=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', faststart);
    ffmpeg('-i', faststart, '-c', 'copy', indexLast);
    const clips = [readFileSync(faststart), readFileSync(indexLast)];
    const allowed = new Set<FailureCode>(['empty_file', 'file_too_large', 'not_a_video', 'no_video_stream', 'video_too_long', 'corrupt_video']);
    const next = rng(SEED + 2);
    for (let i = 0; i < 48; i++) {
      const clip = clips[i % 2]!;
      // Mutations inside the first 2 KB (ftyp, moov or the first media data) and truncations anywhere.
      const head = Buffer.from(clip.subarray(0, 2048));
      const m = mutate(head, clips[(i + 1) % 2]!.subarray(0, 2048), next);
      const bytes = m.name.startsWith('truncated') ? clip.subarray(0, Math.floor(next() * clip.length)) : Buffer.concat([m.bytes, clip.subarray(2048)]);
      const what = `seed ${SEED + 2} case ${i} (${i % 2 === 0 ? 'index first' : 'index last'}, ${m.name})`;
      const result = await within(30_000, what, async () => {
        const frames = decodeFrames(bytes, { fps: 4, maxSeconds: 60, maxBytes: 1024 * 1024, maxWidth: 640, maxPixels: VIDEO_DEFAULTS.maxPixels });
        for (;;) {
          const step = await frames.next();
          if (step.done) return step.value;
          const { width, height, data } = step.value.image;
          assert.equal(data.length, width * height * 3, `${what}: a frame of the size it says`);
          assert.ok(width * height <= VIDEO_DEFAULTS.maxPixels, `${what}: a ${width}x${height} frame`);
        }
      }).catch((err: Error) => assert.fail(`${what}: ${err.stack ?? err.message}`));
      assertTyped(result, allowed, what);
    }
  });
});
