import { existsSync, renameSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../config.ts';
import { decodeImage } from '../core/decode.ts';
import { detectFaces } from '../core/detect.ts';
import { indexDir } from '../core/engine.ts';
import { encodeJpeg } from '../core/encode.ts';
import { cropForDisplay, cropForModel } from '../core/faces.ts';
import { Gallery, type GalleryFace } from '../core/gallery.ts';
import type { FaceEmbedder } from '../core/models/embedder.ts';
import { loadModel } from '../core/models/registry.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { RgbImage } from '../core/types.ts';
import { logger } from '../log.ts';
import { listGalleryImages, type GalleryImage } from './galleryFolder.ts';

const log = logger('build-index');

export const THUMBNAIL_SIZE = 192;

export interface BuildIndexOptions {
  folder: string;
  dataDir: string;
  modelsDir: string;
  model?: string;
  /** The model's descriptor variant, e.g. VGG-Face's '4096' (fc7) or '2622' (fc8); the model's default when absent. */
  descriptor?: string;
  device?: Device;
  /** Leave some images out (tests hold photos back to query with). */
  exclude?: (imagePath: string) => boolean;
  batchSize?: number;
  onProgress?: (progress: { done: number; total: number; faces: number }) => void;
}

export interface BuildSummary {
  images: number;
  faces: number;
  identities: number;
  /** Why images were skipped, with how many of each. */
  skipped: Record<string, number>;
  skippedFiles: { path: string; reason: string }[];
  seconds: number;
  modelId: string;
  descriptor: string;
}

interface Pending {
  face: GalleryFace;
  crop: RgbImage;
  thumbnail: Buffer;
}

/** Builds `<dataDir>/index` from a folder of people; the old index is replaced only once the new one is saved. */
export async function buildIndex(opts: BuildIndexOptions): Promise<Result<BuildSummary>> {
  if (!existsSync(opts.folder)) return fail('missing_file', `No such folder: ${opts.folder}`);
  const images = listGalleryImages(opts.folder).filter((img) => !opts.exclude?.(img.path));
  if (images.length === 0) {
    return fail('empty_index', `No images found in ${opts.folder}: expected <folder>/<Person_Name>/*.jpg`);
  }
  const loaded = await loadModel(opts.model ?? 'default', { modelsDir: opts.modelsDir, device: opts.device ?? 'auto', descriptor: opts.descriptor });
  if (!loaded.ok) return loaded;
  const model = loaded.value;
  const started = performance.now();

  const target = indexDir(opts.dataDir);
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const gallery = Gallery.create(building, { modelId: model.id, descriptor: model.descriptor, dims: model.dims }, images.length);
  const skippedFiles: BuildSummary['skippedFiles'] = [];
  const batchSize = opts.batchSize ?? 16;
  let pending: Pending[] = [];

  const flush = async () => {
    if (pending.length === 0) return;
    const descriptors = await model.predict(pending.map((p) => p.crop));
    pending.forEach((p, i) => gallery.add(p.face, descriptors[i]!, p.thumbnail));
    pending = [];
  };

  try {
    for (const [i, img] of images.entries()) {
      const prepared = await prepareImage(img, model);
      if (prepared.ok) pending.push(prepared.value);
      else skippedFiles.push({ path: img.path, reason: prepared.error.code });
      if (pending.length >= batchSize) await flush();
      opts.onProgress?.({ done: i + 1, total: images.length, faces: gallery.size + pending.length });
    }
    await flush();
    await gallery.save();
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  } finally {
    await model.dispose();
  }

  swapInto(building, target);
  const skipped: Record<string, number> = {};
  for (const { reason } of skippedFiles) skipped[reason] = (skipped[reason] ?? 0) + 1;
  const summary = {
    images: images.length,
    faces: gallery.size,
    identities: gallery.identityCount,
    skipped,
    skippedFiles,
    seconds: (performance.now() - started) / 1000,
    modelId: model.id,
    descriptor: model.descriptor,
  };
  log.info({ ...summary, skippedFiles: undefined, dir: target }, 'index built');
  return ok(summary);
}

/** Decode, take the largest face, crop it for the model and for the thumbnail. */
async function prepareImage(img: GalleryImage, model: FaceEmbedder): Promise<Result<Pending>> {
  const decoded = await decodeImage(await readFile(img.path));
  if (!decoded.ok) return decoded;
  const [face] = await detectFaces(decoded.value);
  if (!face) return fail('no_face', 'no face found');
  const [crop, thumb] = await Promise.all([
    cropForModel(decoded.value, face.box, model),
    cropForDisplay(decoded.value, face.box, THUMBNAIL_SIZE),
  ]);
  return ok({
    face: { name: img.name, image: path.resolve(img.path), box: face.box, source: face.source },
    crop,
    thumbnail: await encodeJpeg(thumb),
  });
}

function swapInto(building: string, target: string): void {
  const old = `${target}.old-${process.pid}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(building, target);
  rmSync(old, { recursive: true, force: true });
}
