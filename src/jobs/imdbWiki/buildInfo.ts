import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FaceSource } from '../../core/gallery.ts';
import type { CleaningStep } from './clean.ts';
import type { ImdbWikiVariant } from './metadata.ts';

// What an IMDB-WIKI build knew about its faces beyond the gallery itself: how cleaning went, where
// each face came from in the .mat, and the columns the report plots. Written beside gallery.json in
// the index folder; the engine never reads it.

export const BUILD_INFO_FILE = 'imdb-wiki.json';

export interface Histogram {
  /** Left edge of the first bin. */
  min: number;
  binWidth: number;
  counts: number[];
}

export interface ImdbWikiBuildInfo {
  version: 1;
  variant: ImdbWikiVariant;
  root: string;
  matPath: string;
  builtAt: string;
  cleaning: { total: number; kept: number; steps: CleaningStep[] };
  /** Rows the workers could not use, by failure code. */
  skipped: Record<string, number>;
  /** Faces by where their box came from. */
  sources: Partial<Record<FaceSource, number>>;
  /** face_score of every row with a finite score, and of the indexed faces, on the same bins. */
  faceScore: { all: Histogram; indexed: Histogram };
  /** One entry per gallery face id. gender: 1 male, 0 female, null unknown; age in years at the photo. */
  faces: { row: number[]; faceScore: number[]; gender: (number | null)[]; age: (number | null)[] };
}

export function writeBuildInfo(indexDir: string, info: ImdbWikiBuildInfo): void {
  writeFileSync(path.join(indexDir, BUILD_INFO_FILE), JSON.stringify(info));
}

/** The build info of an index folder, or null when it was not built from IMDB-WIKI. */
export function readBuildInfo(indexDir: string): ImdbWikiBuildInfo | null {
  const file = path.join(indexDir, BUILD_INFO_FILE);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as ImdbWikiBuildInfo;
}

/** Bins of `binWidth` covering [min, max) of the finite values; both histograms of a pair share them. */
export function histogram(values: Iterable<number>, min: number, max: number, binWidth: number): Histogram {
  const bins = Math.max(1, Math.ceil((max - min) / binWidth));
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.max(0, Math.floor((v - min) / binWidth)))]!++;
  }
  return { min, binWidth, counts };
}
