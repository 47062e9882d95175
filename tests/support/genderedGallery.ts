import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openEngine, type Engine } from '../../src/core/engine.ts';
import { sharp } from '../../src/core/runtime/sharp.ts';
import { buildImdbWikiIndex } from '../../src/jobs/imdbWiki/buildImdbWikiIndex.ts';
import { ageAtPhoto } from '../../src/jobs/imdbWiki/clean.ts';
import { config } from './engine.ts';
import { writeImdbWikiTree, type Tree, type TreeEntry } from './imdbWikiTree.ts';
import { peopleDir } from './paths.ts';

// An IMDB-WIKI-layout gallery whose rows carry gender, dob and photo_taken, built by the real job, for
// the tests of whom-to-compare-with and the celebrity's age: seven women, seven men and two people of
// unknown gender, one or two photos each in the tree; the photo held back from each is the "selfie".

export const WOMEN = ['Angelina_Jolie', 'Kaley_Cuoco', 'Mayim_Bialik', 'Melissa_Rauch', 'Kate_Siegel', 'Rose_Leslie', 'Eileen_Collins'];
export const MEN = ['Barack_Obama', 'Joe_Biden', 'Jim_Parsons', 'Kunal_Nayyar', 'Kevin_Sussman', 'Johnny_Galecki', 'Simon_Helberg'];
export const UNKNOWN_GENDER = ['deepface_person_01', 'deepface_person_02'];

const files = (person: string) => readdirSync(path.join(peopleDir, person)).sort();
/** The photo each person is queried with (never in the tree), where they have more than one. */
export const selfieOf = (person: string): string => path.join(peopleDir, person, files(person).at(-1)!);
export const displayName = (person: string): string => person.replace(/_+/g, ' ');

export interface GenderedGallery {
  dataDir: string;
  tree: Tree;
  engine: Engine;
  /** The fixture row of a gallery image path: its gender (0 female, 1 male, NaN) and its age at the photo. */
  rowOf(image: string): { name: string; gender: number; photoYear: number; age: number };
  close(): Promise<void>;
}

export async function buildGenderedGallery(): Promise<GenderedGallery> {
  const work = mkdtempSync(path.join(tmpdir(), 'lookalike-gendered-'));
  const entries: TreeEntry[] = [];
  const add = (person: string, gender: number) => {
    const all = files(person);
    // Up to two photos in the tree, never the held-back one (a one-photo person is only in the tree).
    const inTree = all.length === 1 ? all : all.slice(0, Math.min(2, all.length - 1));
    for (const file of inTree) entries.push({ person, file, row: { gender } });
  };
  WOMEN.forEach((p) => add(p, 0));
  MEN.forEach((p) => add(p, 1));
  UNKNOWN_GENDER.forEach((p) => add(p, NaN));
  // A row whose dates make no sense (the photo taken before the birth): its age must never be shown.
  const biden = entries.findIndex((e) => e.person === 'Joe_Biden');
  entries[biden] = { ...entries[biden]!, row: { ...entries[biden]!.row, photoTaken: 1900 } };
  const tree = await writeImdbWikiTree(path.join(work, 'wiki_crop'), entries, 'wiki');
  const dataDir = path.join(work, 'data');
  const built = await buildImdbWikiIndex({ root: tree.root, variant: 'wiki', dataDir, modelsDir: config.modelsDir, device: 'cpu', batchSize: 8 });
  if (!built.ok) throw new Error(built.error.message);
  if (built.value.status !== 'complete') throw new Error(`gendered gallery build ${built.value.status}`);
  const engine = await openEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  const byPath = new Map(tree.paths.map((p, i) => [path.resolve(p), tree.rows[i]!]));
  return {
    dataDir,
    tree,
    engine,
    rowOf(image) {
      const row = byPath.get(path.resolve(image));
      if (!row) throw new Error(`${image} is not a row of the fixture tree`);
      return { name: row.name, gender: row.gender, photoYear: row.photoTaken, age: ageAtPhoto(row.dob, row.photoTaken) };
    },
    async close() {
      await engine.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * Faces side by side in one picture, left to right in the order given: a "group photo" whose face
 * numbers are known. Each photo is shrunk into the middle of its tile, so that neighbours stay apart.
 */
export async function faceRow(photos: string[], tile = 300): Promise<Buffer> {
  const inner = Math.round(tile * 0.5);
  const tiles = await Promise.all(photos.map((p) => sharp(p).rotate().resize(inner, inner, { fit: 'cover' }).removeAlpha().png().toBuffer()));
  const offset = Math.round((tile - inner) / 2);
  return sharp({ create: { width: tile * photos.length, height: tile, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite(tiles.map((input, i) => ({ input, left: i * tile + offset, top: offset })))
    .jpeg({ quality: 90 })
    .toBuffer();
}
