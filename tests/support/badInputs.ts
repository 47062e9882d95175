import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';

// Files no photo pipeline should accept, written into a temp dir by the tests that need them.

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG header claiming width x height pixels, with almost no pixel data: a decompression bomb's shape. */
export function hugePng(width = 20000, height = 20000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))), // one row; the rest is missing
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Writes every kind of bad input into dir; returns their paths by expected failure code. */
export function writeBadInputs(dir: string, jpeg: string): Record<string, string> {
  const files = {
    empty_file: path.join(dir, 'empty.jpg'),
    not_an_image: path.join(dir, 'notes.txt'),
    corrupt_image: path.join(dir, 'truncated.jpg'),
    too_many_pixels: path.join(dir, 'huge.png'),
  };
  writeFileSync(files.empty_file, '');
  writeFileSync(files.not_an_image, 'this is not a photo\n'.repeat(20));
  const bytes = readFileSync(jpeg);
  writeFileSync(files.corrupt_image, bytes.subarray(0, Math.floor(bytes.length / 2)));
  writeFileSync(files.too_many_pixels, hugePng());
  return files;
}
