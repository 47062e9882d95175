import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { decodeImage, readImageFile, DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ALPHA_BACKGROUND } from '../src/core/decode.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { FailureCode, Result } from '../src/core/result.ts';
import type { RgbImage } from '../src/core/types.ts';
import { peopleDir, scenesDir, videosDir } from './support/paths.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lookalike-decode-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function assertImage(r: Result<RgbImage>, width: number, height: number): RgbImage {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  assert.equal(r.value.width, width);
  assert.equal(r.value.height, height);
  assert.equal(r.value.data.length, width * height * 3, 'packed 8-bit RGB');
  return r.value;
}

function assertFailure(r: Result<RgbImage>, code: FailureCode): string {
  assert.ok(!r.ok, `expected ${code}, got an image`);
  assert.equal(r.error.code, code, r.error.message);
  assert.ok(r.error.message.length > 10, 'a human-readable message');
  return r.error.message;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

function near(actual: number[], expected: number[], tolerance = 6): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

test('decodes a JPEG photo from the shared set', async () => {
  assertImage(await readImageFile(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg')), 910, 1137);
});

test('decodes a single-channel grey PNG to three channels', async () => {
  const img = assertImage(await readImageFile(path.join(peopleDir, 'Jim_Parsons/faceapi_bbt__sheldon1.png')), 150, 150);
  const [r, g, b] = pixel(img, 75, 75);
  assert.ok(r === g && g === b, 'grey stays grey');
});

test('decodes a 32-bit RGBA PNG without its alpha channel', async () => {
  assertImage(await readImageFile(path.join(scenesDir, 'face_recognition__32bit.png')), 626, 1200);
});

test('decodes a WebP file whose name says .jpg', async () => {
  const bytes = await readFile(path.join(peopleDir, 'deepface_person_02/deepface_tests__img47.jpg'));
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WEBP');
  assertImage(await decodeImage(bytes), 1350, 1800);
});

test('flattens transparent pixels onto the neutral background', async () => {
  const png = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();
  const img = assertImage(await decodeImage(png), 8, 8);
  assert.deepEqual(pixel(img, 3, 3), [ALPHA_BACKGROUND.r, ALPHA_BACKGROUND.g, ALPHA_BACKGROUND.b]);
});

test('reduces a 16-bit PNG to 8 bits per channel', async () => {
  const png16 = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 100, b: 50 } } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal((await sharp(png16).metadata()).depth, 'ushort');
  const img = assertImage(await decodeImage(png16), 64, 48);
  assert.ok(near(pixel(img, 10, 10), [200, 100, 50], 1), `got ${pixel(img, 10, 10)}`);
});

test('takes the first frame of an animated GIF', async () => {
  const red = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const blue = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#0000ff' } }).png().toBuffer();
  const gif = await sharp([red, blue], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const img = assertImage(await decodeImage(gif), 40, 30);
  assert.ok(near(pixel(img, 20, 15), [255, 0, 0], 10), `first frame is red, got ${pixel(img, 20, 15)}`);
});

test('decodes AVIF', async () => {
  const avif = await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 20, g: 160, b: 90 } } })
    .avif()
    .toBuffer();
  const img = assertImage(await decodeImage(avif), 48, 32);
  assert.ok(near(pixel(img, 24, 16), [20, 160, 90], 8), `got ${pixel(img, 24, 16)}`);
});

test('applies EXIF orientation 6: width and height swap and the picture turns upright', async () => {
  // Stored 60x20, left half red, right half blue; orientation 6 means "rotate 90 degrees clockwise to view".
  const raw = Buffer.alloc(60 * 20 * 3);
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 60; x++) raw.set(x < 30 ? [255, 0, 0] : [0, 0, 255], (y * 60 + x) * 3);
  }
  const jpeg = await sharp(raw, { raw: { width: 60, height: 20, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const img = assertImage(await decodeImage(jpeg), 20, 60);
  assert.ok(near(pixel(img, 10, 5), [255, 0, 0], 40), `top is red, got ${pixel(img, 10, 5)}`);
  assert.ok(near(pixel(img, 10, 55), [0, 0, 255], 40), `bottom is blue, got ${pixel(img, 10, 55)}`);
});

test('a truncated JPEG is corrupt_image, not a half-grey picture', async () => {
  const bytes = await readFile(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg'));
  for (const fraction of [0.5, 0.95]) {
    assertFailure(await decodeImage(bytes.subarray(0, Math.floor(bytes.length * fraction))), 'corrupt_image');
  }
});

test('a truncated PNG is corrupt_image', async () => {
  const bytes = await readFile(path.join(peopleDir, 'Eileen_Collins/debian_packages__astronaut.png'));
  assertFailure(await decodeImage(bytes.subarray(0, Math.floor(bytes.length * 0.6))), 'corrupt_image');
});

test('a zero-byte file is empty_file', async () => {
  const file = path.join(dir, 'empty.jpg');
  await writeFile(file, '');
  assertFailure(await readImageFile(file), 'empty_file');
  assertFailure(await decodeImage(new Uint8Array(0)), 'empty_file');
});

test('text, PDF, SVG, video and random bytes are not_an_image', async () => {
  const file = path.join(dir, 'notes.txt');
  await writeFile(file, 'This is a shopping list, not a photo.\nmilk\neggs\n');
  assertFailure(await readImageFile(file), 'not_an_image');

  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  assertFailure(await decodeImage(pdf), 'not_an_image');

  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50" cy="50" r="40"/></svg>');
  assertFailure(await decodeImage(svg), 'not_an_image');

  const video = await readFile(path.join(videosDir, 'hamilton_clip.mp4'));
  assertFailure(await decodeImage(video.subarray(0, 256 * 1024)), 'not_an_image');

  const random = Buffer.alloc(64 * 1024);
  let state = 0x2545f491;
  for (let i = 0; i < random.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    random[i] = state & 0xff;
  }
  assertFailure(await decodeImage(random), 'not_an_image');
});

test('bytes that do not start like a photo never reach a parser: broken SVGs are not_an_image, not "damaged"', async () => {
  // librsvg would parse these (and fail): a sign that untrusted bytes reached the SVG loader.
  const svgs = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><g>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">${'<g>'.repeat(5000)}${'</g>'.repeat(5000)}</svg>`,
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg">&b;</svg>',
    '   \n<svg xmlns="http://www.w3.org/2000/svg" width="1e9" height="1e9"/>',
  ];
  for (const svg of svgs) {
    const message = assertFailure(await decodeImage(Buffer.from(svg)), 'not_an_image');
    assert.match(message, /JPEG, PNG, WebP, GIF, AVIF or TIFF/);
  }
  // HEIC (HEVC) is a HEIF container sharp's libheif cannot decode: refused by its brand, not called damaged.
  const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), Buffer.alloc(64)]);
  assertFailure(await decodeImage(heic), 'not_an_image');
});

test('loaders the project never uses are blocked in sharp itself (libvips files, SVG files)', async () => {
  const vips = path.join(dir, 'image.v');
  await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).toFile(vips);
  await assert.rejects(sharp(vips).metadata(), /unsupported image format/);
  const svgFile = path.join(dir, 'drawing.svg');
  await writeFile(svgFile, '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
  await assert.rejects(sharp(svgFile).metadata(), /unsupported image format/);
  // What the project does use still works: photos from buffers and files, and SVG text for the reply picture.
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).png().toBuffer();
  assert.equal((await sharp(png).metadata()).format, 'png');
  assert.equal((await sharp(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')).metadata()).format, 'svg');
});

/** A valid 1x1 PNG whose IHDR then claims width x height (CRC recomputed): a header-only bomb. */
function forgedPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 0, 0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a 20000x20000 PNG is refused from its header as too_many_pixels, before any decoding', async () => {
  const bomb = forgedPng(20000, 20000);
  assert.equal(bomb.length < 100, true);
  const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
  assert.equal(meta.width, 20000, 'the header really claims 20000x20000');
  const rssBefore = process.memoryUsage().rss;
  const message = assertFailure(await decodeImage(bomb), 'too_many_pixels');
  assert.match(message, /20000x20000/);
  // Decoding would need 1.2 GB for the pixels alone.
  assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'no gigabyte allocation');
  // A real image under the pixel limit is only refused when the limit is lowered below it.
  const real = await readFile(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg'));
  assertFailure(await decodeImage(real, { maxPixels: 1_000_000 }), 'too_many_pixels');
  assert.ok(DEFAULT_MAX_PIXELS >= 24_000_000, 'default admits a 24 MP camera photo');
});

test('a file over the byte limit is file_too_large, checked before reading or decoding', async () => {
  const real = await readFile(path.join(peopleDir, 'Barack_Obama/face_recognition__obama.jpg'));
  assertFailure(await decodeImage(real, { maxBytes: real.length - 1 }), 'file_too_large');
  assertImage(await decodeImage(real, { maxBytes: real.length }), 910, 1137);

  // A sparse file just over the default limit: refused on its size, never read.
  const big = path.join(dir, 'huge.jpg');
  await writeFile(big, real.subarray(0, 1024));
  await truncate(big, DEFAULT_MAX_BYTES + 1);
  assert.match(assertFailure(await readImageFile(big), 'file_too_large'), /25\.0 MB/);
});

test('a path that does not exist is missing_file', async () => {
  assertFailure(await readImageFile(path.join(dir, 'no-such-photo.jpg')), 'missing_file');
  assertFailure(await readImageFile(path.join(dir, 'no-such-dir', 'photo.jpg')), 'missing_file');
});
