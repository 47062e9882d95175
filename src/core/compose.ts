// The reply picture: for each face found in the user's photo, their face beside the closest
// celebrity's, the similarity on a ring between them, and the runners-up as small cards below.
//
// Layers, bottom to top: a background painted here (gradient, glow, the faces' soft shadows) with
// the layout's fixed text and cards, the face crops with rounded corners, their frames, and the
// text that changes (name, similarity ring, runner-up names and bars). SVG is rendered by librsvg
// once per layout, name and percentage, and kept (compose-layers.ts): rendering the whole overlay
// for every reply took most of its time. The layers are blended in JS rather than with sharp's
// composite, which works in floating point over the whole canvas. The layout is drawn in an
// 800-unit-wide coordinate system; other widths scale it as a whole.

import { sharp } from './runtime/sharp.ts';
import type { RgbImage } from './types.ts';
import { blendSparse, blendSprite, layoutLayers, placeSprites, type Piece } from './compose-layers.ts';
import { cleanText, escapeXml, fitLines, fitText, textWidth, type FittedLines, type FontStyle } from './compose-text.ts';

export interface ComposeMatch {
  name: string;
  /** 0..100; values outside are clamped, NaN shows as 0. Drawn rounded to a whole percent. */
  similarity: number;
  /** Square face crop from the gallery image (other shapes are centre-cropped). */
  face: RgbImage;
  /** The year of the gallery photo and the person's age in it: a line under the best match's name when both are given. */
  photoYear?: number;
  age?: number;
}

export interface ComposeRow {
  /** The face's number in the photo (counted from the left), shown as "Face N" when there are several faces. Default: the row's position. */
  number?: number;
  /** Square crop of the user's face (other shapes are centre-cropped). */
  userFace: RgbImage;
  best: ComposeMatch;
  /** 0..4; any beyond the fourth are not drawn. */
  runnersUp: ComposeMatch[];
}

/**
 * Every word the picture shows, so that a caller can give them in the reader's language. Placeholders
 * in braces are filled in here: {n} a number, {shown} and {total} face counts, {year} and {age}.
 */
export interface ComposeLabels {
  title: string;
  titleMany: string;
  you: string;
  /** "Face {n}" */
  face: string;
  /** "{n} faces" */
  faces: string;
  /** "{shown} of {total} faces", when more faces were found than drawn. */
  facesOf: string;
  alsoResembles: string;
  match: string;
  /** "{year}, age {age}" */
  photoAge: string;
  footer: string;
}

export const DEFAULT_LABELS: Readonly<ComposeLabels> = Object.freeze({
  title: 'Your celebrity look-alike',
  titleMany: 'Your celebrity look-alikes',
  you: 'You',
  face: 'Face {n}',
  faces: '{n} faces',
  facesOf: '{shown} of {total} faces',
  alsoResembles: 'Also resembles',
  match: 'Match',
  photoAge: '{year}, age {age}',
  footer: 'Similarity of face embeddings, for fun only.',
});

/** Fills {name} placeholders. */
export function fillLabel(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}

export interface ComposeOptions {
  /** Heading; defaults to labels.title (labels.titleMany for several rows). */
  title?: string;
  /** Small print at the bottom; '' leaves it out. Default labels.footer. */
  footer?: string;
  /** The words of the picture (default English). */
  labels?: Partial<ComposeLabels>;
  /** Faces found in the photo, when more than the rows drawn: the header says "6 of 30 faces". */
  facesFound?: number;
  /** Output width in px (default 800, 400..2400); the height follows from the rows. */
  width?: number;
  format?: 'jpeg' | 'png';
}

export const DEFAULT_WIDTH = 800;
export const MAX_RUNNERS_UP = 4;
const MIN_WIDTH = 400;
const MAX_WIDTH = 2400;
/**
 * Chosen by measurement (bench/replyPicture.ts prints the sweep; README, Benchmarks): Huffman
 * optimisation halved the encoder's speed for 3 % fewer bytes; at about 100 KB, 4:4:4 at quality 85
 * scores a higher PSNR than 4:2:0 at 90 and keeps the ring's and bars' coloured edges crisp;
 * progressive costs four times as long.
 */
const JPEG_OPTIONS = { quality: 85, chromaSubsampling: '4:4:4', optimiseCoding: false } as const;

// Layout, in units of the 800-wide design.
const U = 800;
const PAD = 40;
const HEADER_H = 92;
const FACE = 320;
const FACE_R = 24;
const LEFT_X = PAD;
const RIGHT_X = U - PAD - FACE;
const CAPTION_H = 64;
const CAPTION_LINE = 30;
/** The line under the best match's name (photo year and age). */
const DETAIL_H = 26;
const BADGE_R = 60;
const RING_W = 9;
const RU_GAP = 18;
const RU_LABEL_H = 30;
const CARD_W = 160;
const CARD_H = 190;
const CARD_GAP = 20;
const CARD_INSET = 14;
const THUMB = 104;
const THUMB_R = 16;
const ROW_GAP = 56;
const FOOTER_H = 64;

const TEXT = '#f3f4fa';
const MUTED = '#8d93ad';
const DIM = '#5d6380';
const ACCENT_A = '#8f7bff';
const ACCENT_B = '#ff6fa8';
const TRACK = '#272c47';
const BADGE_FILL = '#141830';
const HAIRLINE = 'rgba(255,255,255,0.08)';
const FONT = "'DejaVu Sans'";
const FONT_CONDENSED = "'DejaVu Sans Condensed'";

const BOLD: FontStyle = { bold: true, condensed: false };
const BOLD_CONDENSED: FontStyle = { bold: true, condensed: true };
const BOOK: FontStyle = { bold: false, condensed: false };
const SMALL_CAPS: FontStyle = { bold: true, condensed: false, letterSpacing: 1.6 };
const BADGE_LABEL: FontStyle = { bold: true, condensed: false, letterSpacing: 1.5 };

interface RowLayout {
  top: number;
  name: FittedLines;
  /** "1993, age 37", or null. */
  detail: string | null;
  /** Top of the runner-up cards. */
  cardsTop: number;
  cards: number;
  bottom: number;
}

/** Renders the reply picture: JPEG (or PNG) bytes, `width` px wide, as tall as the rows need. */
export async function composeReply(rows: ComposeRow[], opts: ComposeOptions = {}): Promise<Buffer> {
  if (rows.length === 0) throw new RangeError('composeReply needs at least one row');
  const width = Math.round(opts.width ?? DEFAULT_WIDTH);
  if (!(width >= MIN_WIDTH && width <= MAX_WIDTH)) {
    throw new RangeError(`width must be ${MIN_WIDTH}..${MAX_WIDTH} px, got ${opts.width}`);
  }
  for (const row of rows) {
    checkImage(row.userFace, 'userFace');
    checkImage(row.best.face, `face of ${row.best.name}`);
    for (const m of row.runnersUp.slice(0, MAX_RUNNERS_UP)) checkImage(m.face, `face of ${m.name}`);
  }

  const scale = width / U;
  const labels = { ...DEFAULT_LABELS, ...opts.labels };
  const { rows: layout, height: unitHeight } = layoutRows(rows, labels);
  const height = Math.round(unitHeight * scale);
  const px = (v: number): number => Math.round(v * scale);

  // Faces that are not yet their tile's size are resized on libuv's threads meanwhile.
  const faces = Promise.all(
    rows.flatMap((row, i) => {
      const r = layout[i]!;
      const xs = cardXs(r.cards);
      return [
        faceTile(row.userFace, px(LEFT_X), px(r.top), px(FACE), FACE_R * scale),
        faceTile(row.best.face, px(RIGHT_X), px(r.top), px(FACE), FACE_R * scale),
        ...row.runnersUp
          .slice(0, MAX_RUNNERS_UP)
          .map((m, j) => faceTile(m.face, px(xs[j]! + (CARD_W - THUMB) / 2), px(r.cardsTop + CARD_INSET), px(THUMB), THUMB_R * scale)),
      ];
    }),
  );
  const fixed = fixedLayers(rows, layout, opts, labels, width, height, unitHeight);
  const fixedLayer = layoutLayers(fixed.key, width, height, () => background(width, height, scale, layout), fixed.under, fixed.over);
  const sprites = placeSprites(changingPieces(rows, layout, labels, width, height, unitHeight), scale, DEFS);

  const [tiles, layers, placed] = await Promise.all([faces, fixedLayer, sprites]);
  const canvas = Buffer.from(layers.under);
  for (const tile of tiles) blendMasked(canvas, width, tile);
  blendSparse(canvas, layers.over);
  for (const sprite of placed) blendSprite(canvas, width, height, sprite);

  const out = sharp(canvas, { raw: { width, height, channels: 3 } });
  if (opts.format === 'png') return out.png({ compressionLevel: 6 }).toBuffer();
  return out.jpeg(JPEG_OPTIONS).toBuffer();
}

/** Side of the tiles faces are drawn in at a picture width: a face given at this size is drawn as it is. */
export function tileSizes(width = DEFAULT_WIDTH): { face: number; thumb: number } {
  const scale = Math.round(width) / U;
  return { face: Math.round(FACE * scale), thumb: Math.round(THUMB * scale) };
}

function checkImage(img: RgbImage, what: string): void {
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`${what}: expected ${img.width}x${img.height} packed RGB, got ${img.data.length} bytes`);
  }
}

/** "1993, age 37" when both are whole numbers, else null (the caller decides what is plausible). */
export function photoAgeText(m: Pick<ComposeMatch, 'photoYear' | 'age'>, labels: Pick<ComposeLabels, 'photoAge'> = DEFAULT_LABELS): string | null {
  if (!Number.isInteger(m.photoYear) || !Number.isInteger(m.age)) return null;
  return fillLabel(labels.photoAge, { year: m.photoYear!, age: m.age! });
}

function layoutRows(rows: ComposeRow[], labels: ComposeLabels): { rows: RowLayout[]; height: number } {
  let y = HEADER_H;
  const out: RowLayout[] = rows.map((row, i) => {
    if (i > 0) y += ROW_GAP;
    const top = y;
    const name = fitLines(displayName(row.best.name), FACE - 8, { one: [26, 21], two: [21, 17] }, BOLD);
    const detail = photoAgeText(row.best, labels);
    const cards = Math.min(row.runnersUp.length, MAX_RUNNERS_UP);
    y += FACE + CAPTION_H + (name.lines.length - 1) * CAPTION_LINE + (detail ? DETAIL_H : 0);
    const cardsTop = y + RU_GAP + RU_LABEL_H;
    if (cards > 0) y = cardsTop + CARD_H;
    return { top, name, detail, cardsTop, cards, bottom: y };
  });
  return { rows: out, height: y + FOOTER_H };
}

/** Left edges of `n` runner-up cards, centred as a group. */
function cardXs(n: number): number[] {
  const total = n * CARD_W + Math.max(0, n - 1) * CARD_GAP;
  const x0 = (U - total) / 2;
  return Array.from({ length: n }, (_, i) => x0 + i * (CARD_W + CARD_GAP));
}

function percent(similarity: number): number {
  return Number.isFinite(similarity) ? Math.round(Math.min(100, Math.max(0, similarity))) : 0;
}

function displayName(name: string): string {
  return cleanText(name) || 'Unknown';
}

// ---------------------------------------------------------------------------------------------
// Raster layers

/** Signed distance from (x, y) to the edge of a rounded rectangle; negative inside. */
function roundedRectDistance(x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number {
  const qx = Math.abs(x - cx) - (hw - r);
  const qy = Math.abs(y - cy) - (hh - r);
  const ox = qx > 0 ? qx : 0;
  const oy = qy > 0 ? qy : 0;
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - r;
}

interface Mask {
  size: number;
  alpha: Uint8Array;
  /** Per row, the [first, end) columns where the mask is fully opaque: copied, not blended. */
  solid: Int32Array;
}

const maskCache = new Map<string, Mask>();

/** Anti-aliased rounded-square coverage, one byte per pixel. */
function roundedMask(size: number, radius: number): Mask {
  const key = `${size}/${radius}`;
  let mask = maskCache.get(key);
  if (!mask) {
    const alpha = new Uint8Array(size * size);
    const solid = new Int32Array(size * 2);
    const c = size / 2;
    for (let y = 0; y < size; y++) {
      let first = size;
      let end = 0;
      for (let x = 0; x < size; x++) {
        const d = roundedRectDistance(x + 0.5, y + 0.5, c, c, c, c, radius);
        const a = Math.round(255 * Math.min(1, Math.max(0, 0.5 - d)));
        alpha[y * size + x] = a;
        if (a === 255) {
          first = Math.min(first, x);
          end = x + 1;
        }
      }
      solid[2 * y] = first;
      solid[2 * y + 1] = Math.max(first, end);
    }
    mask = { size, alpha, solid };
    maskCache.set(key, mask);
  }
  return mask;
}

interface FaceTile {
  rgb: Buffer;
  mask: Mask;
  left: number;
  top: number;
}

async function faceTile(img: RgbImage, left: number, top: number, size: number, radius: number): Promise<FaceTile> {
  // A face already cut to its tile's size (the engine does so: tileSizes) is drawn as it is.
  if (img.width === size && img.height === size) return { rgb: img.data, mask: roundedMask(size, radius), left, top };
  const rgb = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(size, size, { fit: 'cover' })
    .raw()
    .toBuffer();
  return { rgb, mask: roundedMask(size, radius), left, top };
}

/** Draws a face tile; tiles lie inside the canvas by construction of the layout. */
function blendMasked(canvas: Buffer, width: number, tile: FaceTile): void {
  const { rgb, mask, left, top } = tile;
  const { size, alpha, solid } = mask;
  for (let y = 0; y < size; y++) {
    const first = solid[2 * y]!;
    const end = solid[2 * y + 1]!;
    const rowOut = ((top + y) * width + left) * 3;
    const rowIn = y * size * 3;
    rgb.copy(canvas, rowOut + first * 3, rowIn + first * 3, rowIn + end * 3);
    for (let x = 0; x < size; x++) {
      if (x === first) x = end;
      if (x >= size) break;
      const a = alpha[y * size + x]!;
      if (a === 0) continue;
      const s = rowIn + x * 3;
      const d = rowOut + x * 3;
      canvas[d] = (rgb[s]! * a + canvas[d]! * (255 - a) + 127) / 255;
      canvas[d + 1] = (rgb[s + 1]! * a + canvas[d + 1]! * (255 - a) + 127) / 255;
      canvas[d + 2] = (rgb[s + 2]! * a + canvas[d + 2]! * (255 - a) + 127) / 255;
    }
  }
}

// Background: a vertical gradient from deep indigo to near black with a faint violet glow from
// the top right corner, and soft shadows under the big faces. It depends only on the layout, and
// it is painted once per layout (compose-layers.ts keeps the last few).
const TOP = [22, 25, 48] as const;
const BOTTOM = [11, 13, 25] as const;
const GLOW = [120, 90, 255] as const;
const GLOW_STRENGTH = 0.16;
const GLOW_X = 0.92;
const GLOW_Y = -0.1;
const GLOW_RADIUS = 0.75;

function glowAt(x: number, y: number, width: number): number {
  const gx = x / width - GLOW_X;
  const gy = y / width - GLOW_Y;
  const d2 = (gx * gx + gy * gy) / (GLOW_RADIUS * GLOW_RADIUS);
  if (d2 >= 1) return 0;
  const f = 1 - Math.sqrt(d2);
  return GLOW_STRENGTH * f * f;
}

/** Background colour at a pixel, without shadows: what the ring's cut-out is filled with. */
function backgroundAt(x: number, y: number, width: number, height: number): [number, number, number] {
  const t = y / Math.max(1, height - 1);
  const k = glowAt(x, y, width);
  const out: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const base = TOP[c]! + (BOTTOM[c]! - TOP[c]!) * t;
    out[c] = base + (GLOW[c]! - base) * k;
  }
  return out;
}

function background(width: number, height: number, scale: number, layout: RowLayout[]): Buffer {
  const buf = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const t = y / Math.max(1, height - 1);
    const r = TOP[0] + (BOTTOM[0] - TOP[0]) * t;
    const g = TOP[1] + (BOTTOM[1] - TOP[1]) * t;
    const b = TOP[2] + (BOTTOM[2] - TOP[2]) * t;
    for (let x = 0, o = y * width * 3; x < width; x++, o += 3) {
      const k = glowAt(x, y, width);
      buf[o] = r + (GLOW[0] - r) * k;
      buf[o + 1] = g + (GLOW[1] - g) * k;
      buf[o + 2] = b + (GLOW[2] - b) * k;
    }
  }
  for (const row of layout) {
    for (const fx of [LEFT_X, RIGHT_X]) {
      const half = (FACE / 2) * scale;
      shadow(buf, width, height, (fx + FACE / 2) * scale, (row.top + FACE / 2 + 10) * scale, half, FACE_R * scale, 26 * scale, 0.55);
    }
  }
  return buf;
}

/** Darkens around a rounded square, fading out over `blur` px. */
function shadow(buf: Buffer, width: number, height: number, cx: number, cy: number, half: number, radius: number, blur: number, strength: number): void {
  const x0 = Math.max(0, Math.floor(cx - half - blur));
  const x1 = Math.min(width, Math.ceil(cx + half + blur));
  const y0 = Math.max(0, Math.floor(cy - half - blur));
  const y1 = Math.min(height, Math.ceil(cy + half + blur));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const d = roundedRectDistance(x + 0.5, y + 0.5, cx, cy, half, half, radius);
      if (d >= blur) continue;
      const t = 1 - Math.max(0, d) / blur;
      const keep = 1 - strength * t * t;
      const o = (y * width + x) * 3;
      buf[o] = buf[o]! * keep;
      buf[o + 1] = buf[o + 1]! * keep;
      buf[o + 2] = buf[o + 2]! * keep;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SVG overlay

function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function text(x: number, y: number, content: string, size: number, fill: string, style: FontStyle, anchor: 'start' | 'middle' | 'end' = 'start'): string {
  const family = style.condensed ? FONT_CONDENSED : FONT;
  const weight = style.bold ? 'bold' : 'normal';
  const spacing = style.letterSpacing ? ` letter-spacing="${style.letterSpacing}"` : '';
  return (
    `<text x="${fmt(x)}" y="${fmt(y)}" font-family="${family}" font-weight="${weight}" font-size="${fmt(size)}" ` +
    `fill="${fill}" text-anchor="${anchor}"${spacing}>${escapeXml(content)}</text>`
  );
}

/** Gradients the SVG parts refer to. */
const DEFS =
  `<linearGradient id="accent" x1="0" y1="0" x2="1" y2="1">` +
  `<stop offset="0" stop-color="${ACCENT_A}"/><stop offset="1" stop-color="${ACCENT_B}"/></linearGradient>` +
  `<linearGradient id="bar" x1="0" y1="0" x2="1" y2="0">` +
  `<stop offset="0" stop-color="${ACCENT_A}"/><stop offset="1" stop-color="${ACCENT_B}"/></linearGradient>`;

function svgDocument(parts: readonly string[], width: number, height: number, unitHeight: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${U} ${fmt(unitHeight)}" preserveAspectRatio="none"><defs>${DEFS}</defs>${parts.join('')}</svg>`
  );
}

/**
 * What a layout draws the same way in every reply: under the faces (header, captions, card
 * backgrounds, footer) and over them (the faces' frames). The two documents are also the layout's
 * cache key: anything that changes them makes another layout.
 */
function fixedLayers(
  rows: ComposeRow[],
  layout: RowLayout[],
  opts: ComposeOptions,
  labels: ComposeLabels,
  width: number,
  height: number,
  unitHeight: number,
): { key: string; under: string; over: string } {
  const under: string[] = [];
  const over: string[] = [];
  const found = opts.facesFound ?? rows.length;
  const many = rows.length > 1 || found > 1;

  // Header: an accent tick and the title; the face count on the right for group photos, and how many
  // of the photo's faces are drawn when not all of them are.
  const count = cleanText(
    found > rows.length ? fillLabel(labels.facesOf, { shown: rows.length, total: found }) : rows.length > 1 ? fillLabel(labels.faces, { n: rows.length }) : '',
  );
  const countW = count ? textWidth(count, 16, BOOK) + 24 : 0;
  const title = fitText(
    cleanText(opts.title ?? (rows.length > 1 ? labels.titleMany : labels.title)),
    U - 2 * PAD - 20 - countW,
    28,
    18,
    BOLD,
  );
  under.push(`<rect x="${PAD}" y="38" width="6" height="26" rx="3" fill="url(#accent)"/>`);
  under.push(text(PAD + 20, 61, title.text, title.size, TEXT, BOLD));
  if (count) under.push(text(U - PAD, 60, count, 16, MUTED, BOOK, 'end'));

  rows.forEach((row, i) => {
    const r = layout[i]!;
    if (i > 0) under.push(`<rect x="${PAD}" y="${r.top - ROW_GAP / 2}" width="${U - 2 * PAD}" height="1" fill="${HAIRLINE}"/>`);
    over.push(faceFrame(LEFT_X, r.top, FACE, FACE_R));
    over.push(faceFrame(RIGHT_X, r.top, FACE, FACE_R));
    const left = many ? fillLabel(labels.face, { n: row.number ?? i + 1 }) : labels.you;
    const leftFit = fitText(cleanText(left), FACE - 8, 24, 16, BOLD);
    under.push(text(LEFT_X + FACE / 2, r.top + FACE + 40, leftFit.text, leftFit.size, MUTED, BOLD, 'middle'));
    if (r.cards > 0) {
      const labelY = r.cardsTop - RU_LABEL_H + 12;
      const label = fitText(cleanText(labels.alsoResembles).toLocaleUpperCase(), U - 2 * PAD - 60, 12, 10, SMALL_CAPS).text;
      under.push(text(PAD, labelY, label, 12, MUTED, SMALL_CAPS));
      const lineX = PAD + textWidth(label, 12, SMALL_CAPS) + 14;
      under.push(`<rect x="${fmt(lineX)}" y="${labelY - 4}" width="${fmt(U - PAD - lineX)}" height="1" fill="${HAIRLINE}"/>`);
      for (const x of cardXs(r.cards)) {
        // The card is the thumbnail's backdrop, so it lies under it.
        under.push(
          `<rect x="${fmt(x + 0.5)}" y="${r.cardsTop + 0.5}" width="${CARD_W - 1}" height="${CARD_H - 1}" rx="18" ` +
            `fill="rgba(255,255,255,0.035)" stroke="rgba(255,255,255,0.07)"/>`,
        );
        over.push(faceFrame(x + (CARD_W - THUMB) / 2, r.cardsTop + CARD_INSET, THUMB, THUMB_R));
      }
    }
  });

  const footer = cleanText(opts.footer ?? labels.footer);
  if (footer) {
    const fitted = fitText(footer, U - 2 * PAD, 13, 10, BOOK);
    under.push(text(U / 2, unitHeight - 30, fitted.text, fitted.size, DIM, BOOK, 'middle'));
  }
  const underSvg = svgDocument(under, width, height, unitHeight);
  const overSvg = svgDocument(over, width, height, unitHeight);
  return { key: `${underSvg}\n${overSvg}`, under: underSvg, over: overSvg };
}

/** What changes from reply to reply (names, percentages), as pieces drawn around their own origin. */
function changingPieces(
  rows: ComposeRow[],
  layout: RowLayout[],
  labels: ComposeLabels,
  width: number,
  height: number,
  unitHeight: number,
): { piece: Piece; at: { x: number; y: number } }[] {
  const out: { piece: Piece; at: { x: number; y: number } }[] = [];
  rows.forEach((row, i) => {
    const r = layout[i]!;
    const centre = { x: U / 2, y: r.top + FACE / 2 };
    const cutout = backgroundAt(centre.x * (width / U), centre.y * (height / unitHeight), width, height);
    out.push({ piece: similarityBadge(percent(row.best.similarity), cutout, labels.match), at: centre });
    out.push({ piece: nameLines(r.name, r.detail), at: { x: RIGHT_X + FACE / 2, y: r.top + FACE + 40 } });
    const xs = cardXs(r.cards);
    row.runnersUp.slice(0, MAX_RUNNERS_UP).forEach((m, j) => {
      const at = { x: xs[j]!, y: r.cardsTop };
      out.push({ piece: runnerUpName(m.name), at }, { piece: runnerUpBar(percent(m.similarity)), at });
    });
  });
  return out;
}

/** A faint line just inside the face's edge, so that light photos keep their shape. */
function faceFrame(x: number, y: number, size: number, radius: number): string {
  return (
    `<rect x="${x + 0.75}" y="${y + 0.75}" width="${size - 1.5}" height="${size - 1.5}" rx="${radius - 0.75}" ` +
    `fill="none" stroke="rgba(255,255,255,0.12)" stroke-width="1.5"/>`
  );
}

/** The best match's name, centred under its face, and the photo's year and age under it; origin at the first line's baseline. */
function nameLines(name: FittedLines, detail: string | null): Piece {
  let svg = name.lines.map((line, k) => text(0, k * CAPTION_LINE, line, name.size, TEXT, BOLD, 'middle')).join('');
  let bottom = (name.lines.length - 1) * CAPTION_LINE + 0.6 * name.size;
  if (detail) {
    const fitted = fitText(cleanText(detail), FACE - 8, 17, 13, BOOK);
    const y = (name.lines.length - 1) * CAPTION_LINE + DETAIL_H + 2;
    svg += text(0, y, fitted.text, fitted.size, MUTED, BOOK, 'middle');
    bottom = y + 0.6 * fitted.size;
  }
  return { svg, x0: -FACE / 2, y0: -1.3 * name.size, x1: FACE / 2, y1: bottom };
}

/** The similarity on a ring between the faces; origin at the ring's centre. */
function similarityBadge(pct: number, [br, bg, bb]: readonly [number, number, number], matchLabel: string): Piece {
  // The cut-out ring around the badge takes the background's colour, so the badge reads as set
  // into the picture rather than pasted over the faces.
  const cutout = `rgb(${Math.round(br)},${Math.round(bg)},${Math.round(bb)})`;
  const ringR = BADGE_R - RING_W / 2 - 4;
  const circumference = 2 * Math.PI * ringR;
  const arc =
    pct > 0
      ? `<circle cx="0" cy="0" r="${fmt(ringR)}" fill="none" stroke="url(#accent)" stroke-width="${RING_W}" ` +
        `stroke-linecap="round" stroke-dasharray="${fmt((circumference * pct) / 100)} ${fmt(circumference)}" ` +
        `transform="rotate(-90)"/>`
      : '';
  const matchText = fitText(cleanText(matchLabel).toLocaleUpperCase(), 2 * BADGE_R - 30, 10, 8, BADGE_LABEL);
  const digits = String(pct);
  const numSize = pct === 100 ? 32 : 36;
  const numW = textWidth(digits, numSize, BOLD);
  const x0 = -(numW + textWidth('%', 18, BOLD)) / 2;
  const svg =
    `<circle cx="0" cy="0" r="${BADGE_R + 8}" fill="${cutout}"/>` +
    `<circle cx="0" cy="0" r="${BADGE_R}" fill="${BADGE_FILL}"/>` +
    `<circle cx="0" cy="0" r="${fmt(ringR)}" fill="none" stroke="${TRACK}" stroke-width="${RING_W}"/>` +
    arc +
    text(x0, 9, digits, numSize, TEXT, BOLD) +
    text(x0 + numW, 9, '%', 18, TEXT, BOLD) +
    text(0, 28, matchText.text, matchText.size, MUTED, BADGE_LABEL, 'middle');
  const r = BADGE_R + 9;
  return { svg, x0: -r, y0: -r, x1: r, y1: r };
}

/** A runner-up's name on its card; origin at the card's top-left corner. */
function runnerUpName(name: string): Piece {
  const inner = CARD_W - 2 * CARD_INSET;
  const fitted = fitLines(displayName(name), inner, { one: [16, 13], two: [13, 12] }, BOLD_CONDENSED);
  const nameY = fitted.lines.length === 1 ? [150] : [141, 157];
  const svg = fitted.lines.map((line, k) => text(CARD_W / 2, nameY[k]!, line, fitted.size, TEXT, BOLD_CONDENSED, 'middle')).join('');
  return { svg, x0: 0, y0: CARD_INSET + THUMB, x1: CARD_W, y1: CARD_H - 24 };
}

/** A runner-up's similarity as a bar and a percentage; origin at the card's top-left corner. */
function runnerUpBar(pct: number): Piece {
  const inner = CARD_W - 2 * CARD_INSET;
  const label = `${pct}%`;
  const barW = inner - textWidth(label, 14, BOLD) - 10;
  const barY = CARD_H - 20;
  const svg =
    `<rect x="${CARD_INSET}" y="${barY - 3}" width="${fmt(barW)}" height="6" rx="3" fill="${TRACK}"/>` +
    (pct > 0 ? `<rect x="${CARD_INSET}" y="${barY - 3}" width="${fmt(Math.max(6, (barW * pct) / 100))}" height="6" rx="3" fill="url(#bar)"/>` : '') +
    text(CARD_W - CARD_INSET, barY + 5, label, 14, MUTED, BOLD, 'end');
  return { svg, x0: 0, y0: barY - 18, x1: CARD_W, y1: CARD_H };
}
