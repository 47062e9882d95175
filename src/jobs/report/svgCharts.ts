// Small SVG chart pieces for the index report. Each returns markup and the height it took, so a page
// is laid out by stacking them. Plain SVG 1.1: librsvg (sharp's SVG loader) renders it to PNG and
// browsers show it inline.

import { escapeXml } from '../../core/compose-text.ts';

export const FONT = 'DejaVu Sans, Verdana, sans-serif';
export const COLOURS = { primary: '#3b6fb6', secondary: '#c7c7c7', accent: '#d9822b', text: '#222', muted: '#777', grid: '#e6e6e6' };

export interface Block {
  svg: string;
  height: number;
}

export function text(x: number, y: number, s: string, opts: { size?: number; weight?: string; anchor?: 'start' | 'middle' | 'end'; colour?: string } = {}): string {
  return (
    `<text x="${r(x)}" y="${r(y)}" font-family="${FONT}" font-size="${opts.size ?? 13}" fill="${opts.colour ?? COLOURS.text}"` +
    `${opts.weight ? ` font-weight="${opts.weight}"` : ''}${opts.anchor ? ` text-anchor="${opts.anchor}"` : ''}>${escapeXml(s)}</text>`
  );
}

export function heading(x: number, y: number, title: string, note?: string): Block {
  let svg = text(x, y + 20, title, { size: 18, weight: 'bold' });
  if (note) svg += text(x, y + 40, note, { size: 12, colour: COLOURS.muted });
  return { svg, height: note ? 52 : 32 };
}

export interface Bar {
  label: string;
  value: number;
  colour?: string;
  /** Shown after the bar instead of the value. */
  note?: string;
}

/** One labelled horizontal bar per item, scaled to the largest value. */
export function horizontalBars(x: number, y: number, width: number, bars: readonly Bar[], opts: { labelWidth?: number; rowHeight?: number } = {}): Block {
  const labelWidth = opts.labelWidth ?? 260;
  const rowHeight = opts.rowHeight ?? 22;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const barSpace = width - labelWidth - 110;
  let svg = '';
  bars.forEach((b, i) => {
    const top = y + i * rowHeight;
    const w = b.value > 0 ? Math.max(1, (b.value / max) * barSpace) : 0;
    svg += text(x + labelWidth - 8, top + rowHeight * 0.68, b.label, { anchor: 'end', size: 12 });
    svg += `<rect x="${r(x + labelWidth)}" y="${r(top + 3)}" width="${r(w)}" height="${rowHeight - 6}" fill="${b.colour ?? COLOURS.primary}"/>`;
    svg += text(x + labelWidth + w + 6, top + rowHeight * 0.68, b.note ?? b.value.toLocaleString('en-US'), { size: 12, colour: COLOURS.muted });
  });
  return { svg, height: bars.length * rowHeight + 6 };
}

export interface Series {
  label: string;
  counts: readonly number[];
  colour: string;
}

/**
 * Column chart over equal bins starting at `min`; several series share the axes and overlap (the
 * later drawn on top). `marker` draws a dashed vertical line at that x value.
 */
export function histogramChart(
  x: number,
  y: number,
  width: number,
  height: number,
  bins: { min: number; width: number; labels?: readonly string[] },
  series: readonly Series[],
  opts: { marker?: { at: number; label: string }; xLabel?: string } = {},
): Block {
  const n = Math.max(...series.map((s) => s.counts.length), 1);
  const max = Math.max(1, ...series.flatMap((s) => s.counts));
  const left = x + 56;
  const plotW = width - 70;
  // Legend in a row above the plot, so it never covers a column.
  const plotTop = y + 28;
  const plotH = height - 28 - 40;
  const bottom = plotTop + plotH;
  const colW = plotW / n;
  let svg = '';
  for (const tick of niceTicks(max)) {
    const ty = bottom - (tick / max) * plotH;
    svg += `<line x1="${r(left)}" y1="${r(ty)}" x2="${r(left + plotW)}" y2="${r(ty)}" stroke="${COLOURS.grid}"/>`;
    svg += text(left - 6, ty + 4, tick.toLocaleString('en-US'), { anchor: 'end', size: 11, colour: COLOURS.muted });
  }
  for (const s of series) {
    s.counts.forEach((c, i) => {
      if (c <= 0) return;
      const h = Math.max(1, (c / max) * plotH);
      svg += `<rect x="${r(left + i * colW + 0.5)}" y="${r(bottom - h)}" width="${r(Math.max(1, colW - 1))}" height="${r(h)}" fill="${s.colour}"/>`;
    });
  }
  svg += `<line x1="${r(left)}" y1="${r(bottom)}" x2="${r(left + plotW)}" y2="${r(bottom)}" stroke="${COLOURS.text}"/>`;
  const every = Math.max(1, Math.ceil(n / 16));
  for (let i = 0; i <= n; i += every) {
    const label = bins.labels ? bins.labels[i] : String(round(bins.min + i * bins.width));
    if (label === undefined) continue;
    const lx = bins.labels ? left + i * colW + colW / 2 : left + i * colW;
    svg += text(lx, bottom + 16, label, { anchor: 'middle', size: 11, colour: COLOURS.muted });
  }
  if (opts.marker) {
    const mx = left + ((opts.marker.at - bins.min) / bins.width) * colW;
    if (mx >= left && mx <= left + plotW) {
      svg += `<line x1="${r(mx)}" y1="${r(bottom)}" x2="${r(mx)}" y2="${r(plotTop)}" stroke="${COLOURS.accent}" stroke-width="2" stroke-dasharray="6,4"/>`;
      svg += text(mx + 6, plotTop + 12, opts.marker.label, { size: 12, colour: COLOURS.accent });
    }
  }
  if (opts.xLabel) svg += text(left + plotW / 2, bottom + 34, opts.xLabel, { anchor: 'middle', size: 12 });
  let lx = left;
  for (const s of series) {
    svg += `<rect x="${r(lx)}" y="${r(y + 4)}" width="12" height="12" fill="${s.colour}"/>`;
    svg += text(lx + 18, y + 15, s.label, { size: 12 });
    lx += 40 + 7 * s.label.length;
  }
  return { svg, height };
}

/** Up to five round numbers from 0 to max. */
function niceTicks(max: number): number[] {
  const rough = max / 4;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= rough) ?? rough;
  const ticks: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) ticks.push(Math.round(t));
  return ticks;
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
