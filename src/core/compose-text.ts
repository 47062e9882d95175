// Text fitting for the reply picture's SVG overlays. librsvg lays text out with Pango and cannot
// ellipsize, so widths are estimated here from DejaVu Sans advance widths (read from the installed
// fonts' hmtx tables). The estimate errs wide for glyphs it does not know, so a fitted name never
// runs into its neighbour.

/** Advance widths in 1/1000 em of DejaVu Sans Bold, code points 32..126. */
const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
  696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995,
  837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716,
  678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712,
  365, 712, 838,
];

/** Advance widths in 1/1000 em of DejaVu Sans (Book), code points 32..126. */
const BOOK = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
  636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
  748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
  615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
  337, 636, 838,
];

/** Latin letters that do not decompose to an ASCII base letter: [bold, book]. */
const EXTRA: Record<string, [number, number]> = {
  ß: [719, 630], Ø: [850, 787], ø: [687, 612], Æ: [1085, 974], æ: [1048, 982], Œ: [1167, 1070], œ: [1094, 1023],
  Ł: [642, 562], ł: [371, 284], Đ: [838, 775], đ: [716, 635], Þ: [738, 605], þ: [716, 635], ı: [343, 278],
  '…': [1000, 1000], '·': [380, 318], '’': [380, 318], '‘': [380, 318], '–': [500, 500], '—': [1000, 1000],
};

export interface FontStyle {
  bold: boolean;
  /** DejaVu Sans Condensed: every advance is 90 % of the regular face's. */
  condensed: boolean;
  /** Extra space after each glyph, in px (SVG letter-spacing). */
  letterSpacing?: number;
}

const ELLIPSIS = '…';
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

// Wide (CJK, Hangul, full-width forms) and emoji glyphs come from fallback fonts at about 1 em.
const WIDE = /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|\p{Extended_Pictographic}/u;
const MARK = /\p{M}/u;

function codePointEm(ch: string, style: FontStyle): number {
  const c = ch.codePointAt(0) ?? 0;
  if (c >= 32 && c <= 126) return ((style.bold ? BOLD : BOOK)[c - 32] ?? 1000) / 1000;
  const extra = EXTRA[ch];
  if (extra) return (style.bold ? extra[0] : extra[1]) / 1000;
  if (MARK.test(ch)) return 0;
  if (WIDE.test(ch)) return 1.05;
  // Accented Latin letters take their base letter's width; anything else (Cyrillic, Greek,
  // Arabic...) gets a generous average.
  const base = ch.normalize('NFD').charAt(0);
  if (base !== ch) {
    const b = base.codePointAt(0) ?? 0;
    if (b >= 32 && b <= 126) return ((style.bold ? BOLD : BOOK)[b - 32] ?? 1000) / 1000;
  }
  return style.bold ? 0.8 : 0.72;
}

/** Estimated advance width of `text` at `size` px. */
export function textWidth(text: string, size: number, style: FontStyle): number {
  let em = 0;
  let glyphs = 0;
  for (const ch of text) {
    em += codePointEm(ch, style);
    glyphs += 1;
  }
  return em * size * (style.condensed ? 0.9 : 1) + glyphs * (style.letterSpacing ?? 0);
}

/**
 * Control characters, lone surrogates and the two non-characters that XML 1.0 forbids; librsvg
 * rejects the whole document if one slips in. Runs of white space collapse to one space.
 */
export function cleanText(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export interface FittedText {
  text: string;
  size: number;
}

/**
 * The largest size from `maxSize` down to `minSize` at which `text` fits in `maxWidth`; if it does
 * not fit even at `minSize`, it is cut at a grapheme boundary (never inside an emoji or an
 * accented letter) and ends in an ellipsis.
 */
export function fitText(text: string, maxWidth: number, maxSize: number, minSize: number, style: FontStyle): FittedText {
  for (let size = maxSize; size >= minSize; size -= 1) {
    if (textWidth(text, size, style) <= maxWidth) return { text, size };
  }
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  const room = maxWidth - textWidth(ELLIPSIS, minSize, style);
  let used = 0;
  let kept = 0;
  for (const g of graphemes) {
    const w = textWidth(g, minSize, style);
    if (used + w > room) break;
    used += w;
    kept += 1;
  }
  return { text: graphemes.slice(0, kept).join('').trimEnd() + ELLIPSIS, size: minSize };
}

export interface FittedLines {
  lines: string[];
  size: number;
}

export interface LineSizes {
  /** Largest and smallest size for one line. */
  one: [number, number];
  /** Largest and smallest size when the text is broken over two lines at a space. */
  two: [number, number];
}

/**
 * One line if it fits at `sizes.one`; else two lines broken at the space that balances them best;
 * else a first line of whole words and an ellipsized rest, at the smallest two-line size.
 */
export function fitLines(text: string, maxWidth: number, sizes: LineSizes, style: FontStyle): FittedLines {
  for (let size = sizes.one[0]; size >= sizes.one[1]; size -= 1) {
    if (textWidth(text, size, style) <= maxWidth) return { lines: [text], size };
  }
  const words = text.split(' ');
  const minSize = sizes.two[1];
  if (words.length < 2) {
    const one = fitText(text, maxWidth, sizes.one[1], minSize, style);
    return { lines: [one.text], size: one.size };
  }
  for (let size = sizes.two[0]; size >= minSize; size -= 1) {
    let best: [string, string] | null = null;
    let bestWidth = Infinity;
    for (let i = 1; i < words.length; i++) {
      const a = words.slice(0, i).join(' ');
      const b = words.slice(i).join(' ');
      const w = Math.max(textWidth(a, size, style), textWidth(b, size, style));
      if (w <= maxWidth && w < bestWidth) {
        best = [a, b];
        bestWidth = w;
      }
    }
    if (best) return { lines: best, size };
  }
  let taken = 0;
  while (taken < words.length - 1 && textWidth(words.slice(0, taken + 1).join(' '), minSize, style) <= maxWidth) taken += 1;
  if (taken === 0) {
    const one = fitText(text, maxWidth, minSize, minSize, style);
    return { lines: [one.text], size: minSize };
  }
  const rest = fitText(words.slice(taken).join(' '), maxWidth, minSize, minSize, style);
  return { lines: [words.slice(0, taken).join(' '), rest.text], size: minSize };
}
