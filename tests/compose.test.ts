import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharp } from '../src/core/runtime/sharp.ts';
import { composeReply, tileSizes, type ComposeMatch, type ComposeRow } from '../src/core/compose.ts';
import { cleanText, fitLines, fitText, textWidth } from '../src/core/compose-text.ts';
import type { RgbImage } from '../src/core/types.ts';
import { decodeJpegRgb } from '../src/core/runtime/jpegWasm.ts';
import { THUMBNAIL_SIZE, thumbnailJpeg, thumbnailTiles } from '../src/core/tiles.ts';

// Synthetic faces only: solid colours and gradients made here, never photos of people.

async function solid(r: number, g: number, b: number, size = 160): Promise<RgbImage> {
  const { data, info } = await sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function gradient(size = 200): Promise<RgbImage> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><defs>` +
    `<linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#e0a080"/>` +
    `<stop offset="1" stop-color="#402018"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const red = await solid(220, 30, 30);
const green = await solid(30, 200, 60, 112);
const blue = await solid(40, 60, 230);
const warm = await gradient();

function match(name: string, similarity: number, face: RgbImage = blue): ComposeMatch {
  return { name, similarity, face };
}

function row(best: ComposeMatch, runnersUp: ComposeMatch[] = []): ComposeRow {
  return { userFace: red, best, runnersUp };
}

const fullRow = row(match('Angelina Jolie', 78.4, warm), [
  match('Kaley Cuoco', 64.2, green),
  match('Mayim Bialik', 58.9, blue),
  match('Melissa Rauch', 51.3, warm),
  match('Kate Siegel', 44, green),
]);

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
}

async function decode(bytes: Buffer): Promise<Decoded> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Bounding box of the pixels that differ between two same-sized renders, or null. */
function diffBox(a: Decoded, b: Decoded): { x0: number; y0: number; x1: number; y1: number; count: number } | null {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  let box: { x0: number; y0: number; x1: number; y1: number; count: number } | null = null;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const o = (y * a.width + x) * 3;
      const d = Math.abs(a.data[o]! - b.data[o]!) + Math.abs(a.data[o + 1]! - b.data[o + 1]!) + Math.abs(a.data[o + 2]! - b.data[o + 2]!);
      if (d <= 24) continue;
      if (!box) box = { x0: x, y0: y, x1: x, y1: y, count: 0 };
      box.x0 = Math.min(box.x0, x);
      box.x1 = Math.max(box.x1, x);
      box.y0 = Math.min(box.y0, y);
      box.y1 = Math.max(box.y1, y);
      box.count += 1;
    }
  }
  return box;
}

function pixel(img: Decoded, x: number, y: number): [number, number, number] {
  const o = (y * img.width + x) * 3;
  return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
}

test('one row: a JPEG 800 px wide, under 300 KB, with both faces where they belong', async () => {
  const bytes = await composeReply([fullRow]);
  const meta = await sharp(bytes).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width, 800);
  assert.ok(bytes.length < 300_000, `${bytes.length} bytes`);
  const img = await decode(bytes);
  // The user's (red) face fills the left square, the match's gradient the right one.
  const [r, g, b] = pixel(img, 200, 200);
  assert.ok(r > 180 && g < 70 && b < 70, `left face centre is ${r},${g},${b}`);
  const right = pixel(img, 640, 200);
  assert.ok(right[0] > right[2] + 40, `right face centre is ${right.join(',')}`);
  // Corners stay dark background.
  for (const [x, y] of [[2, 2], [797, 2], [2, img.height - 3], [797, img.height - 3]] as const) {
    assert.ok(Math.max(...pixel(img, x, y)) < 90, `corner ${x},${y} is ${pixel(img, x, y).join(',')}`);
  }
});

test('height grows by the same step for each added row; width stays as asked', async () => {
  const heights: number[] = [];
  for (const n of [1, 2, 3, 6]) {
    const meta = await sharp(await composeReply(Array.from({ length: n }, () => fullRow))).metadata();
    assert.equal(meta.width, 800);
    heights.push(meta.height!);
  }
  const [h1, h2, h3, h6] = heights as [number, number, number, number];
  assert.ok(h1 < h2 && h2 < h3 && h3 < h6, heights.join(' < '));
  assert.equal(h3 - h2, h2 - h1);
  assert.equal(h6 - h3, 3 * (h2 - h1));

  const wide = await sharp(await composeReply([fullRow], { width: 1200 })).metadata();
  assert.equal(wide.width, 1200);
  assert.equal(wide.height, Math.round((h1 * 1200) / 800));
});

test('zero runners-up: a shorter picture with no empty card area', async () => {
  const withCards = await decode(await composeReply([fullRow], { format: 'png' }));
  const bare = await decode(await composeReply([row(fullRow.best)], { format: 'png' }));
  assert.equal(bare.width, 800);
  assert.ok(bare.height < withCards.height - 150, `${bare.height} vs ${withCards.height}`);
  // Everything between the captions (which end 476 px down) and the footer is plain background.
  const y0 = 482;
  const y1 = bare.height - 44;
  assert.ok(y1 > y0);
  for (let y = y0; y < y1; y += 3) {
    for (let x = 0; x < 800; x += 7) assert.ok(Math.max(...pixel(bare, x, y)) < 70, `pixel ${x},${y} is ${pixel(bare, x, y).join(',')}`);
  }
});

test('the similarity is drawn as digits inside the ring between the faces, and only there', async () => {
  const a = await decode(await composeReply([row(match('Angelina Jolie', 42, warm))], { format: 'png' }));
  const b = await decode(await composeReply([row(match('Angelina Jolie', 87, warm))], { format: 'png' }));
  // The badge is centred between the faces, half-way down them (header 92 + face 320 / 2).
  const cx = 400;
  const cy = 92 + 160;
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const o = (y * a.width + x) * 3;
      if (Math.abs(a.data[o]! - b.data[o]!) + Math.abs(a.data[o + 1]! - b.data[o + 1]!) + Math.abs(a.data[o + 2]! - b.data[o + 2]!) <= 24) continue;
      const r = Math.hypot(x - cx, y - cy);
      // Within 40 px of the centre is the disc inside the ring: only the digits can change there.
      if (r < 40) inside += 1;
      else if (r > 64) outside += 1;
    }
  }
  assert.ok(inside > 150, `only ${inside} pixels of the digits changed`);
  assert.equal(outside, 0, 'the similarity changed pixels outside the badge');
});

test('the name is drawn under the match, and long names stay inside its column', async () => {
  const short = await decode(await composeReply([row(match('Ann Li', 70, warm))], { format: 'png' }));
  const long = await decode(
    await composeReply([row(match('Maria Magdalena Alexandra von Hohenzollern-Sigmaringen Wittelsbach', 70, warm))], { format: 'png' }),
  );
  assert.ok(long.height >= short.height, 'a long name may take a second line, never less room');
  // Compare the common top part: the only difference is the caption under the right face.
  const top: Decoded = { ...long, height: short.height - 80, data: long.data.subarray(0, (short.height - 80) * 800 * 3) };
  const topShort: Decoded = { ...short, height: short.height - 80, data: short.data.subarray(0, (short.height - 80) * 800 * 3) };
  const box = diffBox(topShort, top);
  assert.ok(box && box.count > 300, 'the name did not change the picture');
  assert.ok(box.x0 >= 440 && box.x1 <= 760, `name spans x ${box.x0}..${box.x1}, outside the right column`);
  assert.ok(box.y0 >= 412, `name starts at y ${box.y0}, over the faces`);
});

test('names with XML specials, control characters and emoji render as text', async () => {
  const plain = await decode(await composeReply([row(match('Tom', 70, warm))], { format: 'png' }));
  const tricky = await decode(
    await composeReply([row(match('<Tom> & "Jerry\'s"\u0007 🎬', 70, warm), [match('A&B <c>', 50, green)])], {
      format: 'png',
      title: 'Q&A: <you> "vs" \'them\'',
    }),
  );
  assert.equal(tricky.width, 800);
  const head = (img: Decoded): Decoded => ({ ...img, height: 480, data: img.data.subarray(0, 480 * 800 * 3) });
  const box = diffBox(head(plain), head(tricky));
  assert.ok(box, 'the escaped name and title drew nothing different');
  // The title changed (top band) and the name changed (under the right face).
  assert.ok(box.y0 < 80 && box.y1 > 412, `diff spans y ${box.y0}..${box.y1}`);
});

test('out-of-range similarities are clamped; empty rows and bad images are refused', async () => {
  const over = await decode(await composeReply([row(match('X', 140, warm))], { format: 'png' }));
  const full = await decode(await composeReply([row(match('X', 100, warm))], { format: 'png' }));
  assert.equal(diffBox(over, full), null);
  const nan = await decode(await composeReply([row(match('X', Number.NaN, warm))], { format: 'png' }));
  const zero = await decode(await composeReply([row(match('X', 0, warm))], { format: 'png' }));
  assert.equal(diffBox(nan, zero), null);

  await assert.rejects(composeReply([]), RangeError);
  await assert.rejects(composeReply([fullRow], { width: 50 }), RangeError);
  const broken: RgbImage = { data: Buffer.alloc(10), width: 160, height: 160 };
  await assert.rejects(composeReply([{ ...fullRow, userFace: broken }]), /packed RGB/);
});

test('text fitting shrinks, wraps at spaces, then ellipsizes within the width', () => {
  const style = { bold: true, condensed: false };
  assert.deepEqual(fitText('Tom', 300, 26, 17, style), { text: 'Tom', size: 26 });

  const shrunk = fitText('Jennifer Lawrence', 220, 26, 17, style);
  assert.equal(shrunk.text, 'Jennifer Lawrence');
  assert.ok(shrunk.size < 26 && textWidth(shrunk.text, shrunk.size, style) <= 220);

  const cut = fitText('Wolfeschlegelsteinhausenbergerdorff', 150, 20, 16, style);
  assert.ok(cut.text.endsWith('…') && cut.text.startsWith('Wolfe'), cut.text);
  assert.ok(textWidth(cut.text, cut.size, style) <= 150);

  const wrapped = fitLines('Arnold Alois Schwarzenegger', 200, { one: [26, 21], two: [21, 17] }, style);
  assert.deepEqual(wrapped.lines, ['Arnold Alois', 'Schwarzenegger']);
  for (const line of wrapped.lines) assert.ok(textWidth(line, wrapped.size, style) <= 200);

  // An emoji is one grapheme of two code points: an ellipsis must not split it.
  const emoji = fitText('🎬🎬🎬🎬🎬🎬🎬🎬🎬🎬🎬🎬', 60, 16, 16, style);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(emoji.text), 'lone surrogate after ellipsizing');

  assert.equal(cleanText('  Tom\u0000\u0007\n  Hanks\uD800 '), 'Tom Hanks');
});

test('the age line under the name, the words of another language, and "6 of 30 faces"', async () => {
  const plain = await composeReply([row(match('Angelina Jolie', 78.4, warm))]);
  const aged = await composeReply([row({ ...match('Angelina Jolie', 78.4, warm), photoYear: 1993, age: 18 })]);
  const [p, a] = await Promise.all([sharp(plain).metadata(), sharp(aged).metadata()]);
  assert.equal(a.height! - p.height!, 26, 'one more line under the name');
  // Only the line changes: the bands above and below the text area are identical.
  const [pr, ar] = await Promise.all([sharp(plain).raw().toBuffer(), sharp(aged).raw().toBuffer()]);
  const rowBytes = 800 * 3;
  const top = 440 * rowBytes;
  let differs = 0;
  for (let i = 0; i < top; i++) if (Math.abs(pr[i]! - ar[i]!) > 40) differs++;
  assert.ok(differs < 200, `the faces and title are unchanged (${differs} bytes differ)`);
  let line = 0;
  for (let i = top; i < top + 40 * rowBytes; i++) if (Math.abs(pr[i]! - ar[i]!) > 40) line++;
  assert.ok(line > 200, 'the age line is drawn under the name');

  const russian = await composeReply([row(match('Анжелина Джоли', 78.4, warm), [match('Кейли Куоко', 64, green)])], {
    labels: { title: 'Ваш двойник-знаменитость', you: 'Вы', alsoResembles: 'Также похоже на', match: 'Сходство', footer: 'Сходство векторов лиц, просто для развлечения.' },
  });
  assert.equal((await sharp(russian).metadata()).format, 'jpeg');
  const group = await composeReply([{ ...row(match('A B', 70)), number: 3 }, { ...row(match('C D', 60)), number: 17 }], { facesFound: 30 });
  assert.equal((await sharp(group).metadata()).format, 'jpeg');
});

test('gallery thumbnails: the WebAssembly decoder gives libvips\' pixels, tiles come at their sizes, a damaged thumbnail gives none', async () => {
  const image = await gradient(400);
  const jpeg = await thumbnailJpeg(image, { x: 100, y: 100, width: 200, height: 200 });
  const ours = await decodeJpegRgb(jpeg);
  const theirs = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([ours.width, ours.height], [THUMBNAIL_SIZE, THUMBNAIL_SIZE]);
  assert.ok(ours.data.equals(theirs.data), 'the same pixels as libvips');

  const { face, thumb } = tileSizes();
  const garbage = Buffer.from('not a JPEG, though a thumbnail could be damaged');
  const corrupt = Buffer.from(jpeg).map((b, i) => (i > 600 && i % 7 === 0 ? b ^ 0xff : b));
  const tiles = await thumbnailTiles([jpeg, jpeg, garbage, corrupt], [face, thumb, thumb, thumb]);
  assert.deepEqual([tiles[0]?.width, tiles[0]?.height], [face, face]);
  assert.deepEqual([tiles[1]?.width, tiles[1]?.height], [thumb, thumb]);
  assert.equal(tiles[2], null);
  const damaged = tiles[3];
  assert.ok(damaged === null || (damaged?.width === thumb && damaged.data.length === thumb * thumb * 3), 'a corrupt thumbnail gives a tile or none, never an error');
  // The decoder goes on working after refusing one.
  assert.ok((await decodeJpegRgb(jpeg)).data.equals(theirs.data));
});
