import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { sharp } from '../../src/core/runtime/sharp.ts';
import { paddedCropLocation } from '../../src/jobs/imdbWiki/faceLocation.ts';
import { writeImdbWikiMat, type ImdbWikiRow } from './matWriter.ts';
import { peopleDir } from './paths.ts';

// A small IMDB-WIKI crop folder for tests and benchmarks: `NN/<id>_<dob>_<year>.jpg` entries that are
// symlinks to the shared photos (never copies), and a .mat of the dataset's structure listing them.
// Each photo stands in for a crop: its face_location is the one a padded crop of its size would carry.

export interface TreeEntry {
  /** Folder under shared/faces/people, e.g. 'Barack_Obama'. */
  person: string;
  file: string;
  /** Overrides of the written row (face_score, name, gender...). */
  row?: Partial<ImdbWikiRow>;
  /** Write the row but create no file for it. */
  missing?: boolean;
  /** Link to this path instead of the shared photo (a corrupt file, say). */
  target?: string;
}

export interface Tree {
  root: string;
  matPath: string;
  rows: ImdbWikiRow[];
  /** Absolute path of each row's image in the tree. */
  paths: string[];
}

const MATLAB_1970 = 719529;

export async function writeImdbWikiTree(
  root: string,
  entries: readonly TreeEntry[],
  variant: 'wiki' | 'imdb',
  options: { celebNames?: string[] } = {},
): Promise<Tree> {
  mkdirSync(root, { recursive: true });
  const rows: ImdbWikiRow[] = [];
  const paths: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const source = entry.target ?? path.join(peopleDir, entry.person, entry.file);
    const folder = String(i % 100).padStart(2, '0');
    const year = 2000 + (i % 15);
    const dobDays = MATLAB_1970 + 3650 + 97 * i;
    const dob = new Date((dobDays - MATLAB_1970) * 86_400_000).toISOString().slice(0, 10);
    const rel = `${folder}/${1000 + i}_${dob}_${year}${path.extname(entry.file) || '.jpg'}`;
    const file = path.join(root, rel);
    let location: ImdbWikiRow['faceLocation'] = [1, 1, 1, 1];
    if (!entry.missing) {
      mkdirSync(path.dirname(file), { recursive: true });
      symlinkSync(source, file);
      const meta = await sharp(source).metadata().catch(() => null);
      if (meta?.width && meta.height) {
        const w = meta.autoOrient?.width ?? meta.width;
        const h = meta.autoOrient?.height ?? meta.height;
        location = [...paddedCropLocation(w, h)] as unknown as ImdbWikiRow['faceLocation'];
      }
    }
    rows.push({
      fullPath: rel,
      name: entry.person.replace(/_+/g, ' '),
      dob: dobDays,
      photoTaken: year,
      gender: i % 3 === 2 ? NaN : i % 2,
      faceLocation: location,
      faceScore: 4 + (i % 7) * 0.25,
      secondFaceScore: NaN,
      ...entry.row,
    });
    paths.push(file);
  }
  const matPath = path.join(root, `${variant}.mat`);
  await writeImdbWikiMat(matPath, rows, { variant, compress: true, celebNames: options.celebNames });
  return { root, matPath, rows, paths };
}

/** Every photo of a person in the shared folder, sorted. */
export function photosOf(person: string): string[] {
  return readdirSync(path.join(peopleDir, person)).sort();
}
