import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Device } from '../config.ts';
import { DEFAULT_DETECTOR, type DetectorName } from '../core/detect/detector.ts';
import { indexDir } from '../core/engine.ts';
import { Gallery } from '../core/gallery.ts';
import type { Precision } from '../core/models/embedder.ts';
import { THUMBNAIL_SIZE } from '../core/tiles.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { logger } from '../log.ts';
import { listGalleryImages } from './galleryFolder.ts';
import { swapInto } from './indexSwap.ts';
import { readPeopleCsv } from './peopleCsv.ts';
import { galleryInfoOf, type FaceTaskResult } from './pool/messages.ts';
import { buildIdOf, startFaceRunner } from './pool/runner.ts';
import type { QueueSettings } from '../queue/settings.ts';

const log = logger('build-index');

export { THUMBNAIL_SIZE };

export interface BuildIndexOptions {
  folder: string;
  dataDir: string;
  modelsDir: string;
  model?: string;
  /** Face detector (default: the CNN, DEFAULT_DETECTOR). */
  detector?: DetectorName;
  /** The model's descriptor variant, e.g. VGG-Face's '4096' (fc7) or '2622' (fc8); the model's default when absent. */
  descriptor?: string;
  /** fp32 (default) or int8 (VGG-Face); the index records it. */
  precision?: Precision;
  device?: Device;
  /** Leave some images out (tests hold photos back to query with). */
  exclude?: (imagePath: string) => boolean;
  batchSize?: number;
  /** Worker threads (default: one per core, at most one per image). */
  workers?: number;
  /** Distribute the images to `lookalike worker` processes through this queue instead of threads here. */
  redis?: QueueSettings;
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
  detector: DetectorName;
}

/** Builds `<dataDir>/index` from a folder of people; the old index is replaced only once the new one is saved. */
export async function buildIndex(opts: BuildIndexOptions): Promise<Result<BuildSummary>> {
  if (!existsSync(opts.folder)) return fail('missing_file', `No such folder: ${opts.folder}`);
  const images = listGalleryImages(opts.folder).filter((img) => !opts.exclude?.(img.path));
  if (images.length === 0) {
    return fail('empty_index', `No images found in ${opts.folder}: expected <folder>/<Person_Name>/*.jpg`);
  }
  // Checked before any image is opened: a bad people.csv stops the build with nothing changed.
  const people = readPeopleCsv(opts.folder);
  if (!people.ok) return people;
  // The pool's workers decode, detect and embed as the engine does for a user's photo (full-size
  // decode, the detector's largest face, model chip and display crop); the gallery is written here,
  // in folder order.
  const started = performance.now();
  const model = opts.model ?? 'default';
  const detector = opts.detector ?? DEFAULT_DETECTOR;
  const prepare = { thumbnailSize: THUMBNAIL_SIZE, decodeMaxSide: null, photoYear: true };
  const pool = await startFaceRunner(
    {
      model,
      detector,
      descriptor: opts.descriptor,
      precision: opts.precision,
      modelsDir: opts.modelsDir,
      device: opts.device ?? 'auto',
      workers: Math.min(opts.workers ?? availableParallelism(), images.length),
      prepare,
    },
    // The same folder and options give the same build id: a coordinator run again takes over its jobs.
    opts.redis ? { queue: opts.redis, buildId: buildIdOf({ folder: path.resolve(opts.folder), images: images.map((i) => i.path), model, detector, descriptor: opts.descriptor ?? null, precision: opts.precision ?? 'fp32', prepare }) } : undefined,
  );
  if (!pool.ok) return pool;
  const info = pool.value.info;

  const results = new Array<FaceTaskResult | undefined>(images.length);
  let done = 0;
  let faces = 0;
  try {
    await pool.value.run(
      images.map((img, key) => ({ key, path: img.path })),
      {
        batchSize: opts.batchSize,
        onResults: (batch) => {
          for (const r of batch) {
            results[r.key] = r;
            if (r.ok) faces++;
          }
          done += batch.length;
          opts.onProgress?.({ done, total: images.length, faces });
        },
      },
    );
  } finally {
    await pool.value.close();
  }

  const target = indexDir(opts.dataDir);
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const gallery = Gallery.create(building, galleryInfoOf(info), faces);
  const skippedFiles: BuildSummary['skippedFiles'] = [];
  try {
    images.forEach((img, i) => {
      const r = results[i]!;
      if (!r.ok) {
        skippedFiles.push({ path: img.path, reason: r.code });
        return;
      }
      const person = people.value.get(img.name);
      // The age is the photo's year less the birth year: a year too many for a photo taken before that year's birthday.
      const age = r.photoYear !== undefined && person?.birthYear !== undefined ? r.photoYear - person.birthYear : undefined;
      gallery.add(
        {
          name: img.name,
          image: path.resolve(img.path),
          box: r.box,
          source: r.source,
          ...(person?.gender ? { gender: person.gender } : {}),
          ...(r.photoYear !== undefined ? { photoYear: r.photoYear } : {}),
          ...(age !== undefined ? { age } : {}),
        },
        r.descriptor,
        r.thumbnail,
      );
    });
    await gallery.save();
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
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
    modelId: info.modelId,
    descriptor: info.descriptor,
    detector: info.detector,
  };
  log.info({ ...summary, skippedFiles: undefined, dir: target }, 'index built');
  return ok(summary);
}
