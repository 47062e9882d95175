import type { Match } from './engineTypes.ts';
import type { GalleryHit } from './gallery.ts';

// A gallery hit as callers see it: who, how similar, and the photo's year and the person's age in it
// when the metadata makes sense (IMDB-WIKI has birth dates in the future and photos from before
// photography; those are left out rather than shown).

/** The first surviving photograph is from 1826 or 1827. */
const FIRST_PHOTO_YEAR = 1826;
export const MAX_PLAUSIBLE_AGE = 100;

/** Year and age when both are whole numbers, the age is 0..100 and the year one a photo can have. */
export function plausiblePhotoAge(photoYear: number | undefined, age: number | undefined, now = new Date()): { photoYear: number; age: number } | undefined {
  if (photoYear === undefined || age === undefined || !Number.isInteger(photoYear) || !Number.isInteger(age)) return undefined;
  if (age < 0 || age > MAX_PLAUSIBLE_AGE) return undefined;
  if (photoYear < FIRST_PHOTO_YEAR || photoYear > now.getUTCFullYear()) return undefined;
  return { photoYear, age };
}

export function matchOf(hit: GalleryHit): Match {
  const match: Match = { name: hit.name, similarity: hit.similarity, image: hit.image, box: hit.box };
  if (hit.gender) match.gender = hit.gender;
  const when = plausiblePhotoAge(hit.photoYear, hit.age);
  if (when) Object.assign(match, when);
  return match;
}
