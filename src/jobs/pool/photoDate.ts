import exifReader from 'exif-reader';
import { sharp } from '../../core/runtime/sharp.ts';

// The year a photo was taken, from its EXIF (DateTimeOriginal, else DateTimeDigitized, else the
// file's DateTime), for a folder gallery's "1993, age 37". Undefined when the file has none.

export async function exifYear(bytes: Uint8Array): Promise<number | undefined> {
  let exif: Buffer | undefined;
  try {
    exif = (await sharp(bytes).metadata()).exif;
  } catch {
    return undefined;
  }
  if (!exif) return undefined;
  try {
    const tags = exifReader(exif);
    const date = tags.Photo?.DateTimeOriginal ?? tags.Photo?.DateTimeDigitized ?? tags.Image?.DateTime;
    const year = date instanceof Date ? date.getUTCFullYear() : undefined;
    return year !== undefined && Number.isInteger(year) && year > 1800 ? year : undefined;
  } catch {
    // A damaged EXIF block is common and harmless: the photo just has no date.
    return undefined;
  }
}
