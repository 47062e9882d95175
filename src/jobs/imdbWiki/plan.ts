import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { cleanMetadata, dropDuplicates, filterRows, normalizeImagePath, type CleanOptions, type CleaningStats } from './clean.ts';
import { nameOf, readImdbWikiMetadata, type ImdbWikiMetadata, type ImdbWikiVariant } from './metadata.ts';

// Which rows of an IMDB-WIKI .mat an index build will process: the metadata rules of clean.ts, then
// the checks that need the files (present; not the same bytes as a row kept earlier), then the cap
// per identity. Whether a file decodes is only known once a worker has tried, so the build adds
// that count itself.

export interface PlanOptions {
  /** The unpacked crop folder: holds `<variant>.mat` and the NN/ folders. */
  root: string;
  variant: ImdbWikiVariant;
  /** The .mat to read (default `<root>/<variant>.mat`). */
  matPath?: string;
  clean?: Partial<CleanOptions>;
  /** Drop a row whose file has the same bytes as an earlier kept row's (default true). */
  dedupeBytes?: boolean;
  /** Keep at most this many rows per identity, those with the highest face_score (default: all). */
  maxPerIdentity?: number;
}

export interface BuildPlan {
  meta: ImdbWikiMetadata;
  matPath: string;
  root: string;
  stats: CleaningStats;
  /** Rows to process, ascending. */
  rows: Uint32Array;
}

/** Absolute path of a row's image; undefined when its full_path would leave the root. */
export function imagePathOf(root: string, meta: ImdbWikiMetadata, row: number): string | undefined {
  const full = path.resolve(root, normalizeImagePath(meta.fullPath[row]!));
  return full.startsWith(path.resolve(root) + path.sep) ? full : undefined;
}

export async function planImdbWikiBuild(opts: PlanOptions): Promise<BuildPlan> {
  const root = path.resolve(opts.root);
  const matPath = path.resolve(opts.matPath ?? path.join(root, `${opts.variant}.mat`));
  const meta = await readImdbWikiMetadata(matPath);
  const { kept, stats } = cleanMetadata(meta, opts.clean);
  let rows = kept;

  const sizes = await mapLimit(rows, 64, async (row) => {
    const file = imagePathOf(root, meta, row);
    if (!file) return -1;
    try {
      const st = await stat(file);
      return st.isFile() ? st.size : -1;
    } catch {
      return -1;
    }
  });
  const sizeOf = new Map<number, number>();
  rows.forEach((row, i) => sizeOf.set(row, sizes[i]!));
  rows = filterRows(rows, (r) => sizeOf.get(r)! >= 0, 'missingFile', 'image file not found under the crop folder', stats);

  if (opts.dedupeBytes ?? true) {
    // Only files that share a size can share bytes: hash those and no others.
    const bySize = new Map<number, number>();
    for (const r of rows) bySize.set(sizeOf.get(r)!, (bySize.get(sizeOf.get(r)!) ?? 0) + 1);
    const candidates = rows.filter((r) => bySize.get(sizeOf.get(r)!)! > 1);
    const hashes = await mapLimit(candidates, 16, async (row) => {
      const bytes = await readFile(imagePathOf(root, meta, row)!).catch(() => null);
      return bytes ? `${bytes.length}:${createHash('sha1').update(bytes).digest('hex')}` : undefined;
    });
    const hashOf = new Map<number, string | undefined>();
    candidates.forEach((row, i) => hashOf.set(row, hashes[i]));
    rows = dropDuplicates(rows, (r) => hashOf.get(r), 'duplicateBytes', 'same bytes as an earlier row', stats);
  }

  if (opts.maxPerIdentity !== undefined) {
    rows = capPerIdentity(meta, rows, opts.maxPerIdentity, stats);
  }
  return { meta, matPath, root, stats, rows };
}

/** Keeps each identity's `max` rows with the best face_score (ties: the earlier row). */
function capPerIdentity(meta: ImdbWikiMetadata, rows: Uint32Array, max: number, stats: CleaningStats): Uint32Array {
  const byName = new Map<string, number[]>();
  for (const r of rows) {
    const name = nameOf(meta, r);
    let list = byName.get(name);
    if (!list) byName.set(name, (list = []));
    list.push(r);
  }
  const keep = new Set<number>();
  for (const list of byName.values()) {
    const score = (r: number) => (Number.isNaN(meta.faceScore[r]!) ? -Infinity : meta.faceScore[r]!);
    list.sort((a, b) => score(b) - score(a) || a - b);
    for (const r of list.slice(0, max)) keep.add(r);
  }
  return filterRows(rows, (r) => keep.has(r), 'maxPerIdentity', `more than ${max} rows of one identity (lowest face_score dropped)`, stats);
}

async function mapLimit<T>(rows: Uint32Array, limit: number, fn: (row: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(rows.length);
  let next = 0;
  const lane = async () => {
    while (next < rows.length) {
      const i = next++;
      out[i] = await fn(rows[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, rows.length) }, lane));
  return out;
}
