import { tileSizes } from './compose.ts';
import { cropForDisplay } from './faces.ts';
import { sharp } from './runtime/sharp.ts';
import type { Box, RgbImage } from './types.ts';

// Faces as the reply picture draws them, cut to the size of their tile so that composeReply copies
// them as they are: the user's face from the photo, a gallery face from its thumbnail.

/**
 * Side of the gallery thumbnails an index stores: twice a runner-up's tile, so that libjpeg decodes
 * a runner-up straight to its size (shrink-on-load) and the best match is enlarged 1.5x at most.
 */
export const THUMBNAIL_SIZE = 2 * tileSizes().thumb;

/** The user's face for the reply picture, `size` px square. */
export function displayTile(image: RgbImage, box: Box, size: number): Promise<RgbImage> {
  return cropForDisplay(image, box, size);
}

/** A gallery face's thumbnail (JPEG) decoded to a `size` px square tile, in one pass. */
export async function thumbnailTile(jpeg: Uint8Array, size: number): Promise<RgbImage> {
  const { data, info } = await sharp(jpeg, { failOn: 'error' })
    .resize(size, size, { fit: 'cover' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The thumbnail an index stores for a face: its display square at THUMBNAIL_SIZE, as JPEG. */
export async function thumbnailJpeg(image: RgbImage, box: Box, size = THUMBNAIL_SIZE): Promise<Buffer> {
  const square = await cropForDisplay(image, box, size);
  return sharp(square.data, { raw: { width: square.width, height: square.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}
