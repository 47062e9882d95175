import path from 'node:path';
import { nameOf, type ImdbWikiMetadata } from './metadata.ts';

// Cleaning rules for IMDB-WIKI rows, as published with the dataset's best-known look-alike use:
// only rows with one confidently detected face and a name make good gallery entries. Rules run in
// order and each one counts only the rows it removed from what earlier rules left, so the counts
// add up. Checks that need the image itself (file present, decodes, same bytes twice) belong to
// the build job, which extends the same CleaningStats with filterRows / dropDuplicates.

export interface CleanOptions {
  /** Drop rows whose face_score is not finite (-Inf: the detector found no face). */
  requireFace: boolean;
  /** Drop rows whose face_score is below this; -Infinity turns the rule off. */
  minFaceScore: number;
  /** Drop rows where a second face was found (second_face_score is not NaN). */
  requireSingleFace: boolean;
  /** Drop rows without a name (imdb rows fall back to celeb_names, see nameOf). */
  requireName: boolean;
  /** Drop rows whose full_path repeats that of an earlier row still kept. */
  dropDuplicatePaths: boolean;
}

export const defaultCleanOptions: Readonly<CleanOptions> = Object.freeze({
  requireFace: true,
  minFaceScore: 3,
  requireSingleFace: true,
  requireName: true,
  dropDuplicatePaths: true,
});

/** Built-in rule names; the build job adds its own (e.g. 'missingFile', 'undecodable', 'duplicateBytes'). */
export type CleaningRule = 'noFace' | 'lowFaceScore' | 'multipleFaces' | 'noName' | 'duplicatePath' | (string & {});

export interface CleaningStep {
  rule: CleaningRule;
  description: string;
  removed: number;
  /** Rows left after this step. */
  keptAfter: number;
}

/** How many rows each rule removed, in the order the rules ran. */
export class CleaningStats {
  readonly steps: CleaningStep[] = [];
  kept: number;

  constructor(readonly total: number) {
    this.kept = total;
  }

  record(rule: CleaningRule, description: string, removed: number): void {
    if (!Number.isInteger(removed) || removed < 0 || removed > this.kept) {
      throw new RangeError(`rule ${rule}: cannot remove ${removed} of ${this.kept} remaining rows`);
    }
    this.kept -= removed;
    this.steps.push({ rule, description, removed, keptAfter: this.kept });
  }

  /** Rows removed by `rule` (0 if it did not run). */
  removedBy(rule: CleaningRule): number {
    return this.steps.filter((s) => s.rule === rule).reduce((sum, s) => sum + s.removed, 0);
  }

  /** One line per step, for logs and CLI output. */
  lines(): string[] {
    return [
      `rows: ${this.total}`,
      ...this.steps.map((s) => `- ${s.rule} (${s.description}): ${s.removed} removed, ${s.keptAfter} left`),
      `kept: ${this.kept}`,
    ];
  }

  toJSON(): { total: number; kept: number; steps: CleaningStep[] } {
    return { total: this.total, kept: this.kept, steps: this.steps.map((s) => ({ ...s })) };
  }
}

export interface CleanResult {
  /** Indices of the rows kept, ascending. */
  kept: Uint32Array;
  stats: CleaningStats;
}

/** Applies the metadata-only rules (defaults: defaultCleanOptions). */
export function cleanMetadata(meta: ImdbWikiMetadata, options: Partial<CleanOptions> = {}): CleanResult {
  const o: CleanOptions = { ...defaultCleanOptions, ...options };
  const stats = new CleaningStats(meta.rows);
  let rows = allRows(meta.rows);
  const { faceScore, secondFaceScore } = meta;
  if (o.requireFace) {
    rows = filterRows(rows, (r) => Number.isFinite(faceScore[r]!), 'noFace', 'face_score not finite: no face found', stats);
  }
  if (o.minFaceScore > -Infinity) {
    // NaN compares false, so a NaN score is dropped here even when requireFace is off.
    rows = filterRows(rows, (r) => faceScore[r]! >= o.minFaceScore, 'lowFaceScore', `face_score below ${o.minFaceScore}`, stats);
  }
  if (o.requireSingleFace) {
    rows = filterRows(rows, (r) => Number.isNaN(secondFaceScore[r]!), 'multipleFaces', 'second_face_score present: more than one face', stats);
  }
  if (o.requireName) {
    rows = filterRows(rows, (r) => nameOf(meta, r) !== '', 'noName', 'no name', stats);
  }
  if (o.dropDuplicatePaths) {
    rows = dropDuplicatePaths(meta, rows, stats);
  }
  return { kept: rows, stats };
}

/** 0..n-1. */
export function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** Keeps the rows for which `keep` is true and records the rest under `rule`. */
export function filterRows(
  rows: Uint32Array,
  keep: (row: number) => boolean,
  rule: CleaningRule,
  description: string,
  stats: CleaningStats,
): Uint32Array {
  const out = new Uint32Array(rows.length);
  let n = 0;
  for (const r of rows) if (keep(r)) out[n++] = r;
  stats.record(rule, description, rows.length - n);
  return out.slice(0, n);
}

/**
 * Keeps the first row for each key (in `rows` order) and records later ones under `rule`.
 * Rows whose key is undefined are kept. The build job uses this with a content hash.
 */
export function dropDuplicates(
  rows: Uint32Array,
  keyOf: (row: number) => string | undefined,
  rule: CleaningRule,
  description: string,
  stats: CleaningStats,
): Uint32Array {
  const seen = new Set<string>();
  return filterRows(
    rows,
    (r) => {
      const key = keyOf(r);
      if (key === undefined) return true;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    },
    rule,
    description,
    stats,
  );
}

/** The path-duplicate rule: the same image listed twice (after normalizing the path) is kept once. */
export function dropDuplicatePaths(meta: ImdbWikiMetadata, rows: Uint32Array, stats: CleaningStats): Uint32Array {
  return dropDuplicates(rows, (r) => normalizeImagePath(meta.fullPath[r]!), 'duplicatePath', 'full_path listed before', stats);
}

/** '17\\a.jpg', './17/a.jpg' and '17//a.jpg' all name '17/a.jpg'. Case is kept: the archives are case-sensitive. */
export function normalizeImagePath(p: string): string {
  if (!needsNormalizing.test(p)) return p;
  return path.posix.normalize(p.trim().replaceAll('\\', '/')).replace(/^(\.\/)+/, '');
}

// Backslash, doubled slash, '.' or '..' segment, or surrounding blanks.
const needsNormalizing = /\\|\/\/|(^|\/)\.\.?(\/|$)|^\s|\s$/;

// MATLAB datenum 719529 is 1970-01-01 (datenum 1 is 1 January of year 0, proleptic Gregorian).
const DATENUM_UNIX_EPOCH = 719529;
const MS_PER_DAY = 86_400_000;

export interface CalendarDate {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
}

/** The calendar date of a MATLAB datenum (fractions of a day ignored); undefined if not finite or < 1. */
export function datenumToDate(datenum: number): CalendarDate | undefined {
  if (!Number.isFinite(datenum) || datenum < 1) return undefined;
  const d = new Date((Math.floor(datenum) - DATENUM_UNIX_EPOCH) * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * Age in whole years when the photo was taken. photo_taken is only a year, so, as the dataset's
 * authors do, the photo is taken to date from the middle of that year (1 July).
 * NaN when either value is missing or not a date; may be negative or absurd for bad metadata.
 */
export function ageAtPhoto(dob: number, photoTaken: number): number {
  const birth = datenumToDate(dob);
  if (!birth || !Number.isFinite(photoTaken)) return NaN;
  const birthdayAfterJuly1 = birth.month > 7 || (birth.month === 7 && birth.day > 1);
  return Math.floor(photoTaken) - birth.year - (birthdayAfterJuly1 ? 1 : 0);
}

/** ageAtPhoto for every row. */
export function agesAtPhoto(meta: ImdbWikiMetadata): Float64Array {
  const ages = new Float64Array(meta.rows);
  for (let i = 0; i < meta.rows; i++) ages[i] = ageAtPhoto(meta.dob[i]!, meta.photoTaken[i]!);
  return ages;
}
