import { LookalikeError } from './errors.ts';
import { sharp } from './runtime/sharp.ts';

// Rasterised SVG for the reply picture, rendered as rarely as possible. librsvg lays out and
// rasterises a whole canvas in tens of milliseconds, most of it on transparent area, so the picture
// is drawn from parts that are rendered once and kept:
//   - a layout's fixed layer (title, captions, card backgrounds, footer) baked into its background;
//   - a layout's fixed parts that lie over the faces (their frames) as a list of the few pixels they cover;
//   - the parts that change per reply (a name, a percentage, the ring) as small sprites, kept by their
//     SVG text, so a name or a percentage is rendered once for many replies. Sprites missing from a
//     reply are rendered together in one SVG (an atlas) and cut apart.
// Everything is drawn in the units of the 800-wide design and scaled as a whole, as before.

/** A piece of SVG in design units, with the box it may draw into (design units, generous). */
export interface Piece {
  svg: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** An RGBA image (straight alpha) and where its top-left corner lies on the canvas, in pixels. */
export interface Sprite {
  rgba: Buffer;
  width: number;
  height: number;
  left: number;
  top: number;
}

/** A sprite as rendered, relative to the piece's origin: placed by adding the scaled origin. */
interface CachedSprite {
  rgba: Buffer;
  width: number;
  height: number;
  /** Pixel offset of the sprite's corner from the piece's origin (0, 0) scaled. */
  dx: number;
  dy: number;
}

/** Sprites kept, by bytes: a name is ~20 KB, a percentage ring ~70 KB. */
const SPRITE_BUDGET_BYTES = 24 * 1024 * 1024;

class SpriteCache {
  private readonly entries = new Map<string, CachedSprite>();
  private bytes = 0;

  get(key: string): CachedSprite | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, sprite: CachedSprite): void {
    this.entries.set(key, sprite);
    this.bytes += sprite.rgba.length;
    for (const [oldKey, old] of this.entries) {
      if (this.bytes <= SPRITE_BUDGET_BYTES) break;
      this.entries.delete(oldKey);
      this.bytes -= old.rgba.length;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

const sprites = new SpriteCache();

/** Forgets every rendered sprite (benchmarks time the first reply this way). */
export function clearSpriteCache(): void {
  sprites.clear();
  layers.clear();
}

function fmt(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/**
 * Sprites for pieces whose origins are `at` (design units), each rendered at `scale` and placed at
 * the origin's whole pixel. Pieces not yet rendered are rendered in one atlas.
 */
export async function placeSprites(pieces: readonly { piece: Piece; at: { x: number; y: number } }[], scale: number, defs: string): Promise<Sprite[]> {
  const keyOf = (p: Piece) => `${scale}|${p.svg}`;
  const missing = new Map<string, Piece>();
  for (const { piece } of pieces) if (!sprites.get(keyOf(piece))) missing.set(keyOf(piece), piece);
  if (missing.size > 0) await renderAtlas([...missing], scale, defs);
  return pieces.map(({ piece, at }) => {
    const s = sprites.get(keyOf(piece))!;
    return { rgba: s.rgba, width: s.width, height: s.height, left: Math.round(at.x * scale) + s.dx, top: Math.round(at.y * scale) + s.dy };
  });
}

/** Renders the pieces stacked in one SVG and caches each one's trimmed sprite. */
async function renderAtlas(pieces: readonly [string, Piece][], scale: number, defs: string): Promise<void> {
  const slots = pieces.map(([key, p]) => {
    const x0 = Math.floor(p.x0 * scale) - 1;
    const y0 = Math.floor(p.y0 * scale) - 1;
    return { key, p, x0, y0, width: Math.ceil(p.x1 * scale) + 1 - x0, height: Math.ceil(p.y1 * scale) + 1 - y0, top: 0 };
  });
  let height = 0;
  for (const s of slots) {
    s.top = height;
    height += s.height;
  }
  const width = Math.max(...slots.map((s) => s.width));
  const body = slots
    .map((s) => `<g transform="translate(${-s.x0} ${s.top - s.y0}) scale(${fmt(scale)})">${s.p.svg}</g>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs>${defs}</defs>${body}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4 || info.width !== width || info.height !== height) {
    throw new LookalikeError(`sprite atlas rendered as ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x4`);
  }
  for (const s of slots) {
    const trimmed = trim(data, width, 0, s.top, s.width, s.height);
    sprites.set(s.key, { ...trimmed.sprite, dx: s.x0 + trimmed.x, dy: s.y0 + trimmed.y });
  }
}

/** The smallest box of the region (x, y, w, h) of an RGBA image holding every non-transparent pixel, copied out. */
function trim(rgba: Buffer, stride: number, x: number, y: number, w: number, h: number): { sprite: { rgba: Buffer; width: number; height: number }; x: number; y: number } {
  let minX = w;
  let minY = h;
  let maxX = -1;
  let maxY = -1;
  for (let j = 0; j < h; j++) {
    const row = ((y + j) * stride + x) * 4;
    for (let i = 0; i < w; i++) {
      if (rgba[row + i * 4 + 3] === 0) continue;
      if (i < minX) minX = i;
      if (i > maxX) maxX = i;
      if (j < minY) minY = j;
      maxY = j;
    }
  }
  if (maxX < 0) return { sprite: { rgba: Buffer.alloc(0), width: 0, height: 0 }, x: 0, y: 0 };
  const width = maxX - minX + 1;
  const height = maxY - minY + 1;
  const out = Buffer.alloc(width * height * 4);
  for (let j = 0; j < height; j++) {
    const from = ((y + minY + j) * stride + x + minX) * 4;
    rgba.copy(out, j * width * 4, from, from + width * 4);
  }
  return { sprite: { rgba: out, width, height }, x: minX, y: minY };
}

/** Blends a sprite onto a packed RGB canvas, clipped to it. */
export function blendSprite(canvas: Buffer, canvasWidth: number, canvasHeight: number, s: Sprite): void {
  const x0 = Math.max(0, -s.left);
  const y0 = Math.max(0, -s.top);
  const x1 = Math.min(s.width, canvasWidth - s.left);
  const y1 = Math.min(s.height, canvasHeight - s.top);
  const { rgba } = s;
  for (let y = y0; y < y1; y++) {
    let src = (y * s.width + x0) * 4;
    let dst = ((s.top + y) * canvasWidth + s.left + x0) * 3;
    for (let x = x0; x < x1; x++, src += 4, dst += 3) {
      const a = rgba[src + 3]!;
      if (a === 0) continue;
      if (a === 255) {
        canvas[dst] = rgba[src]!;
        canvas[dst + 1] = rgba[src + 1]!;
        canvas[dst + 2] = rgba[src + 2]!;
      } else {
        canvas[dst] = (rgba[src]! * a + canvas[dst]! * (255 - a) + 127) / 255;
        canvas[dst + 1] = (rgba[src + 1]! * a + canvas[dst + 1]! * (255 - a) + 127) / 255;
        canvas[dst + 2] = (rgba[src + 2]! * a + canvas[dst + 2]! * (255 - a) + 127) / 255;
      }
    }
  }
}

/** The pixels of a canvas-sized RGBA layer that are not transparent: offset (in RGB bytes), then r, g, b, a. */
export interface SparseLayer {
  offsets: Uint32Array;
  rgba: Uint8Array;
}

export function blendSparse(canvas: Buffer, layer: SparseLayer): void {
  const { offsets, rgba } = layer;
  for (let i = 0, s = 0; i < offsets.length; i++, s += 4) {
    const d = offsets[i]!;
    const a = rgba[s + 3]!;
    canvas[d] = (rgba[s]! * a + canvas[d]! * (255 - a) + 127) / 255;
    canvas[d + 1] = (rgba[s + 1]! * a + canvas[d + 1]! * (255 - a) + 127) / 255;
    canvas[d + 2] = (rgba[s + 2]! * a + canvas[d + 2]! * (255 - a) + 127) / 255;
  }
}

function sparse(rgba: Buffer): SparseLayer {
  let count = 0;
  for (let s = 3; s < rgba.length; s += 4) if (rgba[s] !== 0) count++;
  const offsets = new Uint32Array(count);
  const out = new Uint8Array(count * 4);
  for (let s = 0, i = 0; s < rgba.length; s += 4) {
    if (rgba[s + 3] === 0) continue;
    offsets[i] = (s / 4) * 3;
    out.set(rgba.subarray(s, s + 4), i * 4);
    i++;
  }
  return { offsets, rgba: out };
}

/** What a layout draws once: the background with the fixed layer under the faces blended in, and the fixed layer over them. */
export interface LayoutLayers {
  under: Buffer;
  over: SparseLayer;
}

/** Layouts kept: one-face replies differ only in the runner-up count and the name's line count. */
const LAYOUTS_KEPT = 12;
const layers = new Map<string, LayoutLayers>();

/**
 * A layout's fixed layers, rendered on first use. `background` paints the canvas; `under` and `over`
 * are whole-canvas SVG documents (width x height px) blended under and over the faces.
 */
export async function layoutLayers(key: string, width: number, height: number, background: () => Buffer, under: string, over: string): Promise<LayoutLayers> {
  const kept = layers.get(key);
  if (kept) {
    layers.delete(key);
    layers.set(key, kept);
    return kept;
  }
  const [u, o] = await Promise.all([under, over].map((svg) => sharp(Buffer.from(svg)).raw().toBuffer({ resolveWithObject: true })));
  for (const r of [u!, o!]) {
    if (r.info.width !== width || r.info.height !== height || r.info.channels !== 4) {
      throw new LookalikeError(`layer rendered as ${r.info.width}x${r.info.height}x${r.info.channels}, expected ${width}x${height}x4`);
    }
  }
  const canvas = Buffer.from(background());
  blendSparse(canvas, sparse(u!.data));
  const made = { under: canvas, over: sparse(o!.data) };
  layers.set(key, made);
  if (layers.size > LAYOUTS_KEPT) layers.delete(layers.keys().next().value!);
  return made;
}
