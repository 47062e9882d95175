import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests read real photos from the shared folder beside the checkout; nothing is copied in.
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(process.env.LOOKALIKE_SHARED_DIR ?? path.join(repoRoot, '../shared'));
export const facesDir = path.join(sharedDir, 'faces');
export const peopleDir = path.join(facesDir, 'people');
/** 55 people none of the tuning used; figures on them are the honest ones. */
export const validationDir = path.join(facesDir, 'validation');
export const scenesDir = path.join(facesDir, 'scenes');
export const videosDir = path.join(facesDir, 'videos');
export const wikiMatPath = path.join(sharedDir, 'imdb-wiki', 'wiki.mat');
