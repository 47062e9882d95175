import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { peopleDir } from './paths.ts';

/**
 * A gallery folder (<folder>/<Person>/<photo>) of symbolic links to some of the shared people's
 * photos: for each person, `pick` chooses from their file names, sorted. Nothing is copied.
 */
export function linkPeopleGallery(folder: string, people: readonly string[], pick: (sorted: string[]) => string[]): string {
  for (const person of people) {
    mkdirSync(path.join(folder, person), { recursive: true });
    for (const file of pick(readdirSync(path.join(peopleDir, person)).sort())) symlinkSync(path.join(peopleDir, person, file), path.join(folder, person, file));
  }
  return folder;
}
