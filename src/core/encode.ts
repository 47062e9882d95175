import { sharp } from './runtime/sharp.ts';
import type { RgbImage } from './types.ts';

export async function encodeJpeg(image: RgbImage, quality = 85): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality, mozjpeg: true })
    .toBuffer();
}
