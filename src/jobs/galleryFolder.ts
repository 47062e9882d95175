import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

// The gallery folder layout: <root>/<Person_Name>/*.{jpg,png,webp,...}; underscores become spaces.

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jfif', '.png', '.webp', '.gif', '.avif', '.heic', '.heif', '.tif', '.tiff']);

export interface GalleryImage {
  name: string;
  path: string;
}

export function personName(folderName: string): string {
  return folderName.replace(/_+/g, ' ').trim();
}

/** Every image under the root, sorted by person then file so builds are reproducible. */
export function listGalleryImages(root: string): GalleryImage[] {
  const images: GalleryImage[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = path.join(root, entry.name);
    for (const file of readdirSync(dir).sort()) {
      const full = path.join(dir, file);
      if (IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase()) && statSync(full).isFile()) {
        images.push({ name: personName(entry.name), path: full });
      }
    }
  }
  return images;
}
