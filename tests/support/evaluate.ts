import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeImage } from '../../src/core/decode.ts';
import { describeFaces, type FacePipeline } from '../../src/core/faces.ts';
import { cosine } from '../../src/core/similarity.ts';
import { listGalleryImages, type GalleryImage } from '../../src/jobs/galleryFolder.ts';
import { bestAccuracy, rocAuc } from './eval.ts';
import { facesDir } from './paths.ts';

// Recognition accuracy of a whole pipeline (detector, alignment, descriptor) on labelled folders:
// faces found, leave-one-out retrieval, a gallery protocol, verification pairs. Shared by
// tests/accuracy.test.ts (which asserts the targets) and bench/accuracy.ts (which prints a sweep).

/** Folder names of `faces/people` that are really someone else's name (faces/aliases.csv). */
function readAliases(): Map<string, string> {
  const rows = readFileSync(path.join(facesDir, 'aliases.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  return new Map(rows.map((row) => row.split(',') as [string, string]).map(([folder, name]) => [folder.replace(/_+/g, ' '), name]));
}

const aliases = readAliases();

/** One person, one name: "deepface person 03" is Mark Zuckerberg. */
export function canonicalName(name: string): string {
  return aliases.get(name) ?? name;
}

export interface DescribedPhoto {
  path: string;
  /** Canonical identity. */
  name: string;
  /** The largest face's descriptor, or null when no face was found. */
  descriptor: Float32Array | null;
}

/** Every photo's largest face, as `lookalike match` takes a query's first face. */
export async function describePhotos(images: readonly GalleryImage[], pipeline: FacePipeline): Promise<DescribedPhoto[]> {
  const out: DescribedPhoto[] = [];
  for (const image of images) {
    const decoded = await decodeImage(await readFile(image.path));
    // A photo the decoder refuses is a miss like one without a face, as it would be for a user.
    const [face] = decoded.ok ? await describeFaces(decoded.value, pipeline, { maxFaces: 1 }) : [];
    out.push({ path: image.path, name: canonicalName(image.name), descriptor: face?.descriptor ?? null });
  }
  return out;
}

export function describeFolder(root: string, pipeline: FacePipeline): Promise<DescribedPhoto[]> {
  return describePhotos(listGalleryImages(root), pipeline);
}

export interface Retrieval {
  queries: number;
  top1: number;
  top5: number;
  noFace: number;
  misses: string[];
}

/** Names of the `top` closest identities to a descriptor, best face per identity. */
function rankNames(query: Float32Array, gallery: readonly DescribedPhoto[], top: number): string[] {
  const scored = gallery
    .filter((g) => g.descriptor)
    .map((g) => ({ name: g.name, score: cosine(query, g.descriptor!) }))
    .sort((a, b) => b.score - a.score);
  const names: string[] = [];
  for (const { name } of scored) {
    if (!names.includes(name)) names.push(name);
    if (names.length === top) break;
  }
  return names;
}

function retrieve(queries: readonly DescribedPhoto[], galleryFor: (q: DescribedPhoto) => readonly DescribedPhoto[], root: string): Retrieval {
  const r: Retrieval = { queries: queries.length, top1: 0, top5: 0, noFace: 0, misses: [] };
  for (const q of queries) {
    const where = path.relative(root, q.path);
    if (!q.descriptor) {
      r.noFace++;
      r.misses.push(`${where} (no face)`);
      continue;
    }
    const names = rankNames(q.descriptor, galleryFor(q), 5);
    if (names[0] === q.name) r.top1++;
    else r.misses.push(`${where} -> ${names[0]}`);
    if (names.includes(q.name)) r.top5++;
  }
  return { ...r, top1: r.top1 / r.queries, top5: r.top5 / r.queries };
}

/**
 * Each photo of a person with two or more photos is a query against all the others (its own photo
 * left out); a photo without a face counts as a miss.
 */
export function leaveOneOut(photos: readonly DescribedPhoto[], root: string): Retrieval {
  const perPerson = new Map<string, number>();
  for (const p of photos) perPerson.set(p.name, (perPerson.get(p.name) ?? 0) + 1);
  const queries = photos.filter((p) => perPerson.get(p.name)! >= 2);
  return retrieve(queries, (q) => photos.filter((p) => p !== q), root);
}

/**
 * The first `perPerson` photos of each person (in file order) form the gallery with every distractor
 * photo; the rest of each person's photos are queries. Distractors may be the same people under
 * another folder name; a match to either counts.
 */
export function galleryProtocol(photos: readonly DescribedPhoto[], distractors: readonly DescribedPhoto[], perPerson: number, root: string): Retrieval & { galleryPhotos: number } {
  const seen = new Map<string, number>();
  const gallery: DescribedPhoto[] = [...distractors];
  const queries: DescribedPhoto[] = [];
  for (const p of photos) {
    const n = seen.get(p.name) ?? 0;
    seen.set(p.name, n + 1);
    (n < perPerson ? gallery : queries).push(p);
  }
  return { ...retrieve(queries, () => gallery, root), galleryPhotos: gallery.length };
}

/** The first `perPerson` photos of each person in file order: the gallery half of galleryProtocol. */
export function galleryHalf(images: readonly GalleryImage[], perPerson: number): { gallery: GalleryImage[]; queries: GalleryImage[] } {
  const seen = new Map<string, number>();
  const gallery: GalleryImage[] = [];
  const queries: GalleryImage[] = [];
  for (const img of images) {
    const n = seen.get(img.name) ?? 0;
    seen.set(img.name, n + 1);
    (n < perPerson ? gallery : queries).push(img);
  }
  return { gallery, queries };
}

export interface Verification {
  pairs: number;
  same: number;
  missed: number;
  auc: number;
  accuracy: number;
  threshold: number;
}

/** deepface's verification pairs; a pair with a face missed scores as "nothing alike". */
export async function verifyPairs(pipeline: FacePipeline): Promise<Verification> {
  const rows = readFileSync(path.join(facesDir, 'deepface_pairs.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const files = [...new Set(rows.flatMap((row) => row.split(',').slice(0, 2)))];
  const described = await describePhotos(files.map((f) => ({ name: '', path: path.join(facesDir, f) })), pipeline);
  const byFile = new Map(files.map((f, i) => [f, described[i]!.descriptor]));
  let missed = 0;
  const pairs = rows.map((row) => {
    const [a, b, same] = row.split(',');
    const [da, db] = [byFile.get(a!), byFile.get(b!)];
    if (!da || !db) missed++;
    return { score: da && db ? cosine(da, db) : -1, same: same === '1' };
  });
  const { accuracy, threshold } = bestAccuracy(pairs);
  return { pairs: pairs.length, same: pairs.filter((p) => p.same).length, missed, auc: rocAuc(pairs), accuracy, threshold };
}

/** Cosines between the largest faces of photos of different people: where unrelated faces score. */
export function impostorCosines(photos: readonly DescribedPhoto[]): number[] {
  const withFace = photos.filter((p) => p.descriptor);
  const out: number[] = [];
  for (let i = 0; i < withFace.length; i++) {
    for (let j = i + 1; j < withFace.length; j++) {
      if (withFace[i]!.name !== withFace[j]!.name) out.push(cosine(withFace[i]!.descriptor!, withFace[j]!.descriptor!));
    }
  }
  return out;
}
