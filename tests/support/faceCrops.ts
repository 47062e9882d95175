import path from 'node:path';
import { sharp } from '../../src/core/runtime/sharp.ts';
import type { RgbImage } from '../../src/core/types.ts';
import { peopleDir } from './paths.ts';

// Face crops for embedding tests and benchmarks, made without the detector: each photo here is
// already centred on one face, so a fixed centre square resized to the model's input is a face crop.
// Colour photos come first so that a swapped channel order cannot hide behind grey pictures.
export const CROP_PHOTOS: readonly { person: string; file: string }[] = [
  { person: 'Kate_Siegel', file: 'facenet_pytorch__1.png' },
  { person: 'Paul_Rudd', file: 'facenet_pytorch__1.png' },
  { person: 'Bradley_Cooper', file: 'facenet_pytorch__1.png' },
  { person: 'Shea_Whigham', file: 'facenet_pytorch__1.png' },
  { person: 'Lionel_Messi', file: 'debian_packages__messi_face.jpg' },
  { person: 'Anthony_Hopkins', file: 'facenet_davidsandberg__Anthony_Hopkins_0001.jpg' },
  { person: 'Anthony_Hopkins', file: 'facenet_davidsandberg__Anthony_Hopkins_0002.jpg' },
  { person: 'Jim_Parsons', file: 'faceapi_bbt__sheldon1.png' },
  { person: 'Jim_Parsons', file: 'faceapi_bbt__sheldon2.png' },
  { person: 'Kaley_Cuoco', file: 'faceapi_bbt__penny1.png' },
  { person: 'Kunal_Nayyar', file: 'faceapi_bbt__raj1.png' },
  { person: 'Simon_Helberg', file: 'faceapi_bbt__howard1.png' },
];

export interface LabelledCrop {
  person: string;
  file: string;
  crop: RgbImage;
}

/** Centre square of the photo, resized to size x size, as packed RGB. */
export async function centreCrop(file: string, size: number): Promise<RgbImage> {
  const { data, info } = await sharp(file)
    .rotate()
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file}: expected 3 channels after conversion, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}

export async function loadFaceCrops(size: number): Promise<LabelledCrop[]> {
  return Promise.all(
    CROP_PHOTOS.map(async ({ person, file }) => ({ person, file, crop: await centreCrop(path.join(peopleDir, person, file), size) })),
  );
}
