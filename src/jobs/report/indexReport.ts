import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Gallery, type FaceSource } from '../../core/gallery.ts';
import { ok, type Result } from '../../core/result.ts';
import { sharp } from '../../core/runtime/sharp.ts';
import { readBuildInfo, type ImdbWikiBuildInfo } from '../imdbWiki/buildInfo.ts';
import { COLOURS, heading, histogramChart, horizontalBars, text, type Bar, type Block } from './svgCharts.ts';

// `lookalike index report`: one page about an index, to look at rather than read: the rows each
// cleaning rule removed, the face_score distribution, faces per identity, gender and age, where the
// face boxes came from, and a contact sheet of faces from the gallery's own thumbnails. The page is
// one SVG: inline in an HTML file, or rendered to PNG by sharp. Indexes built from a folder of
// people have no IMDB-WIKI metadata; their report shows the rest.

export const PAGE_WIDTH = 1200;
const MARGIN = 40;
const TILE = 96;
const TILE_GAP = 8;
const TILE_LABEL = 16;
const SAMPLE_FACES = 40;

export interface ReportData {
  dir: string;
  modelId: string;
  descriptor: string;
  faces: number;
  identities: number;
  facesPerIdentity: Map<string, number>;
  sources: Partial<Record<FaceSource, number>>;
  imdbWiki: ImdbWikiBuildInfo | null;
  samples: { name: string; thumbnail: Buffer | null }[];
}

/** Reads what the report shows from an index folder. */
export async function gatherReport(indexDir: string, opts: { samples?: number } = {}): Promise<Result<ReportData>> {
  const opened = await Gallery.open(indexDir);
  if (!opened.ok) return opened;
  const g = opened.value;
  const facesPerIdentity = new Map<string, number>();
  const sources: Partial<Record<FaceSource, number>> = {};
  const firstFace = new Map<string, number>();
  for (let id = 0; id < g.size; id++) {
    const face = g.face(id);
    facesPerIdentity.set(face.name, (facesPerIdentity.get(face.name) ?? 0) + 1);
    sources[face.source] = (sources[face.source] ?? 0) + 1;
    if (!firstFace.has(face.name)) firstFace.set(face.name, id);
  }
  // People spread evenly over the index, one face each: a contact sheet of many people, not one.
  const names = [...firstFace.keys()];
  const want = Math.min(opts.samples ?? SAMPLE_FACES, names.length);
  const samples = Array.from({ length: want }, (_, i) => {
    const name = names[Math.floor((i * names.length) / want)]!;
    return { name, thumbnail: g.thumbnail(firstFace.get(name)!) };
  });
  return ok({
    dir: indexDir,
    modelId: g.info.modelId,
    descriptor: g.info.descriptor,
    faces: g.size,
    identities: g.identityCount,
    facesPerIdentity,
    sources,
    imdbWiki: readBuildInfo(indexDir),
    samples,
  });
}

const RULE_LABELS: Record<string, string> = {
  noFace: 'no face (face_score -Inf)',
  lowFaceScore: 'face_score too low',
  multipleFaces: 'a second face',
  noName: 'no name',
  duplicatePath: 'same full_path twice',
  missingFile: 'file missing',
  duplicateBytes: 'same bytes as another file',
  maxPerIdentity: 'over --max-per-identity',
  undecodable: 'did not decode',
  noFaceFound: 'no face found',
};

/** The whole page as one SVG document. */
export async function renderReportSvg(data: ReportData): Promise<string> {
  const x = MARGIN;
  const width = PAGE_WIDTH - 2 * MARGIN;
  const blocks: ((y: number) => Block)[] = [];
  const info = data.imdbWiki;

  blocks.push((y) => {
    const source = info ? `${info.variant}.mat (${info.matPath})` : 'a folder of people';
    const title = text(x, y + 26, `Celebrity index: ${data.faces.toLocaleString('en-US')} faces of ${data.identities.toLocaleString('en-US')} people`, { size: 24, weight: 'bold' });
    const sub = text(x, y + 48, `Built from ${source}; model ${data.modelId} (${data.descriptor}); index at ${data.dir}`, { size: 12, colour: COLOURS.muted });
    return { svg: title + sub, height: 64 };
  });

  if (info) {
    blocks.push(section('Rows removed by each cleaning rule', `${info.cleaning.total.toLocaleString('en-US')} rows in ${info.variant}.mat, ${info.cleaning.kept.toLocaleString('en-US')} kept`, (y) => {
      const bars: Bar[] = info.cleaning.steps.map((s) => ({ label: RULE_LABELS[s.rule] ?? s.rule, value: s.removed, colour: COLOURS.accent }));
      bars.push({ label: 'kept', value: info.cleaning.kept, colour: COLOURS.primary });
      return horizontalBars(x, y, width, bars);
    }));
    blocks.push(section('face_score', 'the dataset detector\'s confidence, every row with a face vs. the faces indexed', (y) => {
      const { all, indexed } = info.faceScore;
      const minStep = info.cleaning.steps.find((s) => s.rule === 'lowFaceScore');
      const cut = minStep ? Number(/below (-?[\d.]+)/.exec(minStep.description)?.[1]) : NaN;
      return histogramChart(
        x,
        y,
        width,
        240,
        { min: all.min, width: all.binWidth },
        [
          { label: 'all rows with a finite score', counts: all.counts, colour: COLOURS.secondary },
          { label: 'indexed faces', counts: indexed.counts, colour: COLOURS.primary },
        ],
        { marker: Number.isFinite(cut) ? { at: cut, label: `cut at ${cut}` } : undefined, xLabel: 'face_score' },
      );
    }));
  }

  blocks.push(section('Faces per identity', perIdentityNote(data.facesPerIdentity), (y) => {
    const buckets = [1, 2, 3, 6, 11, 21, 51, 101];
    const labels = ['1', '2', '3-5', '6-10', '11-20', '21-50', '51-100', '101+'];
    const counts = new Array<number>(buckets.length).fill(0);
    for (const n of data.facesPerIdentity.values()) {
      let b = buckets.length - 1;
      while (b > 0 && n < buckets[b]!) b--;
      counts[b]!++;
    }
    const hist = histogramChart(x, y, width / 2 - 10, 220, { min: 0, width: 1, labels }, [{ label: 'people', counts, colour: COLOURS.primary }], { xLabel: 'faces of one person' });
    const top = [...data.facesPerIdentity].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 9);
    const bars = horizontalBars(x + width / 2 + 10, y + 4, width / 2 - 10, top.map(([label, value]) => ({ label: truncate(label, 26), value })), { labelWidth: 200 });
    return { svg: hist.svg + bars.svg, height: Math.max(hist.height, bars.height) };
  }));

  if (info) {
    blocks.push(section('Gender and age', 'of the indexed faces; age in years when the photo was taken (photo_taken minus date of birth)', (y) => {
      let male = 0;
      let female = 0;
      let unknown = 0;
      for (const g of info.faces.gender) g === 1 ? male++ : g === 0 ? female++ : unknown++;
      const genders = horizontalBars(x, y + 4, width / 3, [
        { label: 'male', value: male },
        { label: 'female', value: female, colour: COLOURS.accent },
        { label: 'unknown', value: unknown, colour: COLOURS.secondary },
      ], { labelWidth: 90 });
      const labels = ['<10', '10s', '20s', '30s', '40s', '50s', '60s', '70s', '80s', '90+', '?'];
      const counts = new Array<number>(labels.length).fill(0);
      for (const a of info.faces.age) {
        if (a === null || a < 0 || a > 120) counts[10]!++;
        else counts[Math.min(9, Math.floor(a / 10))]!++;
      }
      const ages = histogramChart(x + width / 3 + 20, y, (2 * width) / 3 - 20, 200, { min: 0, width: 1, labels }, [{ label: 'faces', counts, colour: COLOURS.primary }], { xLabel: 'age at photo' });
      return { svg: genders.svg + ages.svg, height: Math.max(genders.height, ages.height) };
    }));
  }

  blocks.push(section('Where the face boxes came from', 'cascade: found by the Haar cascade; metadata: face_location from the .mat; whole image: the crop\'s own layout', (y) =>
    horizontalBars(x, y, width, (['cascade', 'metadata', 'whole_image'] as const).map((s) => ({ label: s.replace('_', ' '), value: data.sources[s] ?? 0 })), { labelWidth: 140 }),
  ));

  const sheet = await contactSheet(data.samples, width);
  blocks.push(section('Sample faces', `one face each of ${data.samples.length} people spread over the index`, (y) => ({ svg: `<g transform="translate(${x},${y})">${sheet.svg}</g>`, height: sheet.height })));

  let y = MARGIN / 2;
  let body = '';
  for (const block of blocks) {
    const b = block(y);
    body += b.svg;
    y += b.height + 18;
  }
  const height = Math.ceil(y + MARGIN / 2);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${PAGE_WIDTH}" height="${height}" viewBox="0 0 ${PAGE_WIDTH} ${height}">` +
    `<rect width="100%" height="100%" fill="#fff"/>${body}</svg>`
  );
}

function section(title: string, note: string, content: (y: number) => Block): (y: number) => Block {
  return (y) => {
    const h = heading(MARGIN, y, title, note);
    const c = content(y + h.height + 6);
    return { svg: h.svg + c.svg, height: h.height + 6 + c.height };
  };
}

function perIdentityNote(counts: Map<string, number>): string {
  const values = [...counts.values()].sort((a, b) => a - b);
  if (values.length === 0) return 'no faces';
  const median = values[values.length >> 1]!;
  return `median ${median}, most ${values[values.length - 1]}; the people with the most faces on the right`;
}

async function contactSheet(samples: ReportData['samples'], width: number): Promise<Block> {
  const perRow = Math.max(1, Math.floor((width + TILE_GAP) / (TILE + TILE_GAP)));
  let svg = '';
  for (const [i, s] of samples.entries()) {
    const tx = (i % perRow) * (TILE + TILE_GAP);
    const ty = Math.floor(i / perRow) * (TILE + TILE_GAP + TILE_LABEL);
    if (s.thumbnail) {
      // Thumbnails are re-encoded small: the page stays light however large the gallery's are.
      const small = await sharp(s.thumbnail).resize(TILE, TILE, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
      svg += `<image x="${tx}" y="${ty}" width="${TILE}" height="${TILE}" xlink:href="data:image/jpeg;base64,${small.toString('base64')}" href="data:image/jpeg;base64,${small.toString('base64')}"/>`;
    } else {
      svg += `<rect x="${tx}" y="${ty}" width="${TILE}" height="${TILE}" fill="${COLOURS.grid}"/>`;
    }
    svg += text(tx + TILE / 2, ty + TILE + 12, truncate(s.name, 15), { anchor: 'middle', size: 10 });
  }
  const rows = Math.ceil(samples.length / perRow);
  return { svg, height: rows * (TILE + TILE_GAP + TILE_LABEL) };
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export type ReportFormat = 'png' | 'html';

export function reportFormatOf(file: string): ReportFormat {
  return /\.html?$/i.test(file) ? 'html' : 'png';
}

/** Renders the report of an index folder to `out` (.html: an HTML page; anything else: PNG). */
export async function writeIndexReport(indexDir: string, out: string): Promise<Result<{ out: string; format: ReportFormat; data: ReportData }>> {
  const data = await gatherReport(indexDir);
  if (!data.ok) return data;
  const svg = await renderReportSvg(data.value);
  const format = reportFormatOf(out);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  if (format === 'html') {
    const title = `Celebrity index report: ${data.value.faces} faces of ${data.value.identities} people`;
    writeFileSync(
      out,
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
        '<style>body{margin:0;background:#f3f3f3}svg{display:block;margin:0 auto;max-width:100%;height:auto}</style></head>' +
        `<body>\n${svg}\n</body></html>\n`,
    );
  } else {
    // librsvg's default limit on the SVG's size would refuse a long contact sheet; the page is ours.
    writeFileSync(out, await sharp(Buffer.from(svg), { limitInputPixels: false, unlimited: true }).png({ compressionLevel: 9 }).toBuffer());
  }
  return ok({ out, format, data: data.value });
}
