import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Device } from '../../config.ts';
import { DEFAULT_DETECTOR, type DetectorName } from '../../core/detect/detector.ts';
import { indexDir } from '../../core/engine.ts';
import { Gallery, type FaceSource } from '../../core/gallery.ts';
import type { Precision } from '../../core/models/embedder.ts';
import { fail, ok, type Result } from '../../core/result.ts';
import { logger } from '../../log.ts';
import { THUMBNAIL_SIZE } from '../buildIndex.ts';
import { swapInto } from '../indexSwap.ts';
import { buildIdOf, startFaceRunner } from '../pool/runner.ts';
import type { QueueSettings } from '../../queue/settings.ts';
import { galleryInfoOf, type FaceTaskResult, type ModelInfo } from '../pool/messages.ts';
import { emptyTimings, type FaceTask, type StageTimings } from '../pool/prepareFace.ts';
import { histogram, writeBuildInfo, type ImdbWikiBuildInfo } from './buildInfo.ts';
import { Checkpoint, type CheckpointRecord, type RecordIndex } from './checkpoint.ts';
import { ageAtPhoto, defaultCleanOptions, type CleaningStats } from './clean.ts';
import { RateEstimator } from './rate.ts';
import { nameOf } from './metadata.ts';
import { imagePathOf, planImdbWikiBuild, type BuildPlan, type PlanOptions } from './plan.ts';

// The celebrity index from IMDB-WIKI's face crops, offline: plan the rows (clean, check files, drop
// repeats, cap per identity), describe them in a pool of workers with a checkpoint after every
// batch, then write the gallery from the checkpoint and swap it into <dataDir>/index. A build that is
// stopped (Ctrl-C, kill -9, a crash) resumes from its checkpoint when run again with the same data
// and options; see checkpoint.ts for why nothing is then lost or counted twice.

const log = logger('imdb-wiki-build');

/**
 * Crops are decoded to at most this long side: a crop's face (1/1.8 of it) then still spans 350 px,
 * over twice the model's 150, and large JPEGs decode at a fraction of their size.
 */
export const DEFAULT_DECODE_MAX_SIDE = 640;

export interface ImdbWikiBuildOptions extends PlanOptions {
  dataDir: string;
  modelsDir: string;
  model?: string;
  /** Face detector (default: the CNN, DEFAULT_DETECTOR). */
  detector?: DetectorName;
  descriptor?: string;
  /** fp32 (default) or int8 (VGG-Face); the index records it. */
  precision?: Precision;
  device?: Device;
  /** Continue from a checkpoint of the same build (default true); false discards any checkpoint. */
  resume?: boolean;
  /** Worker threads (default: every core). */
  workers?: number;
  /** Distribute the rows to `lookalike worker` processes through this queue instead of threads here. */
  redis?: QueueSettings;
  /** Images each worker prepares at once (default 2). */
  concurrency?: number;
  /** Crops per batch, embedded in one model call and checkpointed with one fsync (default 16). */
  batchSize?: number;
  decodeMaxSide?: number;
  /** Aborting stops the build after the last checkpointed batch; the summary then says 'interrupted'. */
  signal?: AbortSignal;
  /** Called once the plan is made, before any image is processed. */
  onPlan?: (plan: PlanReport) => void;
  onProgress?: (progress: BuildProgress) => void;
}

export interface PlanReport {
  stats: CleaningStats;
  /** Rows the build will index. */
  total: number;
  /** Of those, rows the checkpoint already holds. */
  resumed: number;
  tornBytes: number;
}

export interface BuildProgress {
  /** Rows processed, including those from the checkpoint. */
  done: number;
  total: number;
  faces: number;
  skipped: number;
  /** Rows per second in this run (each row is one face crop). */
  rate: number;
  /** Seconds left at that rate; null until there is a rate. */
  etaSeconds: number | null;
}

export interface ImdbWikiBuildSummary {
  status: 'complete' | 'interrupted';
  variant: string;
  /** Rows in the .mat. */
  rows: number;
  /** Rows the plan kept for indexing. */
  planned: number;
  /** Rows found in the checkpoint when this run started. */
  resumed: number;
  /** Rows processed by this run. */
  processed: number;
  faces: number;
  identities: number;
  skipped: Record<string, number>;
  sources: Partial<Record<FaceSource, number>>;
  /** Cleaning steps, including the rows the workers could not use (once complete). */
  cleaning: string[];
  seconds: number;
  /** Where this run's time went: planning (metadata, files), starting the workers, processing, writing the index. */
  phases: { plan: number; start: number; process: number; write: number };
  /** Rows per second of this run's processing (the figure behind the ETA). */
  rowsPerSecond: number;
  workers: number;
  /** Whether `lookalike worker` processes did the work (--redis); `workers` then counts them. */
  distributed: boolean;
  modelId: string;
  descriptor: string;
  /** Where the checkpoint is (interrupted) or was (complete). */
  checkpointDir: string;
  indexDir: string;
  /** Stage times summed over workers, in ms. */
  timings: StageTimings;
}

/** <dataDir>/index.checkpoint: one per data directory, like the index it feeds. */
export function checkpointDir(dataDir: string): string {
  return `${indexDir(dataDir)}.checkpoint`;
}

const MODEL_FILE = 'model.json';

export async function buildImdbWikiIndex(opts: ImdbWikiBuildOptions): Promise<Result<ImdbWikiBuildSummary>> {
  const started = performance.now();
  const root = path.resolve(opts.root);
  if (!existsSync(root)) return fail('missing_file', `No such folder: ${root}`);
  const matPath = path.resolve(opts.matPath ?? path.join(root, `${opts.variant}.mat`));
  if (!existsSync(matPath)) {
    return fail('missing_file', `No ${path.basename(matPath)} in ${root}: expected the unpacked ${opts.variant}_crop folder (${opts.variant}.mat and the NN/ folders).`);
  }
  // A .mat of the wrong structure throws MatFormatError, naming what is wrong.
  const plan = await planImdbWikiBuild({ ...opts, root, matPath });
  const planSeconds = (performance.now() - started) / 1000;
  if (plan.meta.variant !== opts.variant) {
    return fail('missing_file', `${matPath} holds '${plan.meta.variant}' metadata, not '${opts.variant}'; use --${plan.meta.variant}.`);
  }

  const decodeMaxSide = opts.decodeMaxSide ?? DEFAULT_DECODE_MAX_SIDE;
  const ckptDir = checkpointDir(opts.dataDir);
  const mat = statSync(matPath);
  const identity = {
    variant: opts.variant,
    root,
    matPath,
    matBytes: mat.size,
    matModified: mat.mtimeMs,
    clean: { ...defaultCleanOptions, ...opts.clean },
    dedupeBytes: opts.dedupeBytes ?? true,
    maxPerIdentity: opts.maxPerIdentity ?? null,
    model: opts.model ?? 'default',
    descriptor: opts.descriptor ?? null,
    ...(opts.precision && opts.precision !== 'fp32' ? { precision: opts.precision } : {}),
    detector: opts.detector ?? DEFAULT_DETECTOR,
    thumbnailSize: THUMBNAIL_SIZE,
    decodeMaxSide,
  };
  const { checkpoint, tornBytes } = Checkpoint.open(ckptDir, identity, { resume: opts.resume ?? true });
  // The checkpoint names the build on the queue: the same checkpoint (a resumed build) takes over its jobs.
  const buildId = buildIdOf({ identity, checkpoint: checkpointCreatedAt(ckptDir) });
  try {
    return await runBuild(opts, plan, checkpoint, { started, planSeconds, tornBytes, decodeMaxSide, ckptDir, buildId });
  } finally {
    checkpoint.close();
  }
}

async function runBuild(
  opts: ImdbWikiBuildOptions,
  plan: BuildPlan,
  checkpoint: Checkpoint,
  ctx: { started: number; planSeconds: number; tornBytes: number; decodeMaxSide: number; ckptDir: string; buildId: string },
): Promise<Result<ImdbWikiBuildSummary>> {
  const { meta } = plan;
  const planned = new Set(plan.rows);
  const first = firstRecordPerRow(checkpoint.index, planned);
  const resumed = first.size;
  let faces = 0;
  let skippedCount = 0;
  for (const e of first.values()) e.kind === 'face' ? faces++ : skippedCount++;
  opts.onPlan?.({ stats: plan.stats, total: plan.rows.length, resumed, tornBytes: ctx.tornBytes });

  const tasks: FaceTask[] = [];
  const loc = meta.faceLocation;
  for (const row of plan.rows) {
    if (first.has(row)) continue;
    const o = row * 4;
    tasks.push({ key: row, path: imagePathOf(plan.root, meta, row)!, faceLocation: [loc[o]!, loc[o + 1]!, loc[o + 2]!, loc[o + 3]!] });
  }

  let info = readModelInfo(ctx.ckptDir);
  let timings = emptyTimings();
  let processed = 0;
  let workers = 0;
  let stopped = false;
  const startStarted = performance.now();
  let runStarted = startStarted;
  if (tasks.length > 0) {
    const pool = await startFaceRunner(
      {
        model: opts.model ?? 'default',
        detector: opts.detector ?? DEFAULT_DETECTOR,
        descriptor: opts.descriptor,
        precision: opts.precision,
        modelsDir: opts.modelsDir,
        device: opts.device ?? 'auto',
        workers: opts.workers,
        concurrency: opts.concurrency,
        prepare: { thumbnailSize: THUMBNAIL_SIZE, decodeMaxSide: ctx.decodeMaxSide },
      },
      opts.redis ? { queue: opts.redis, buildId: ctx.buildId, ...(opts.batchSize ? { jobRows: 2 * opts.batchSize } : {}) } : undefined,
    );
    if (!pool.ok) return pool;
    workers = pool.value.size;
    info = pool.value.info;
    writeFileSync(path.join(ctx.ckptDir, MODEL_FILE), JSON.stringify(info));
    runStarted = performance.now();
    const rates = new RateEstimator(runStarted, workers);
    try {
      const outcome = await pool.value.run(tasks, {
        batchSize: opts.batchSize,
        signal: opts.signal,
        onResults: (results) => {
          checkpoint.append(results.map(toRecord));
          for (const r of results) r.ok ? faces++ : skippedCount++;
          processed += results.length;
          const rate = rates.add(performance.now(), processed);
          const done = resumed + processed;
          opts.onProgress?.({
            done,
            total: plan.rows.length,
            faces,
            skipped: skippedCount,
            rate,
            etaSeconds: rate > 0 ? (plan.rows.length - done) / rate : null,
          });
        },
      });
      stopped = outcome.stopped;
      timings = outcome.timings;
    } finally {
      await pool.value.close();
    }
  }
  const runSeconds = (performance.now() - runStarted) / 1000;
  let writeSeconds = 0;

  const all = firstRecordPerRow(checkpoint.index, planned);
  const skipped: Record<string, number> = {};
  const sources: Partial<Record<FaceSource, number>> = {};
  for (const e of all.values()) {
    if (e.kind === 'skip') skipped[e.code!] = (skipped[e.code!] ?? 0) + 1;
    else sources[e.source!] = (sources[e.source!] ?? 0) + 1;
  }
  const summary = (status: ImdbWikiBuildSummary['status'], identities: number): ImdbWikiBuildSummary => ({
    status,
    variant: meta.variant,
    rows: meta.rows,
    planned: plan.rows.length,
    resumed,
    processed,
    faces: Object.values(sources).reduce((a, b) => a + b, 0),
    identities,
    skipped,
    sources,
    cleaning: plan.stats.lines(),
    seconds: (performance.now() - ctx.started) / 1000,
    phases: { plan: ctx.planSeconds, start: (runStarted - startStarted) / 1000, process: runSeconds, write: writeSeconds },
    rowsPerSecond: runSeconds > 0 ? processed / runSeconds : 0,
    workers,
    distributed: opts.redis !== undefined,
    modelId: info?.modelId ?? opts.model ?? 'default',
    descriptor: info?.descriptor ?? opts.descriptor ?? '',
    checkpointDir: ctx.ckptDir,
    indexDir: indexDir(opts.dataDir),
    timings,
  });

  if (stopped || all.size < plan.rows.length) {
    log.warn({ done: all.size, planned: plan.rows.length }, 'build stopped; the checkpoint keeps what was done');
    return ok(summary('interrupted', 0));
  }

  // Rows the workers could not use join the cleaning report as rules of their own.
  const decodeFailures = Object.entries(skipped).filter(([code]) => code !== 'no_face').reduce((a, [, n]) => a + n, 0);
  plan.stats.record('undecodable', 'file missing, unreadable or not a decodable image', decodeFailures);
  plan.stats.record('noFaceFound', 'neither the cascade nor face_location gave a face', skipped.no_face ?? 0);

  if (!info) {
    // Every row was checkpointed by an earlier run that stopped before it wrote the model's details.
    const pool = await startFaceRunner(
      { model: opts.model ?? 'default', detector: opts.detector ?? DEFAULT_DETECTOR, descriptor: opts.descriptor, precision: opts.precision, modelsDir: opts.modelsDir, device: opts.device ?? 'auto', workers: 1, prepare: { thumbnailSize: THUMBNAIL_SIZE, decodeMaxSide: ctx.decodeMaxSide } },
      opts.redis ? { queue: opts.redis, buildId: ctx.buildId } : undefined,
    );
    if (!pool.ok) return pool;
    info = pool.value.info;
    await pool.value.close();
  }
  const writeStarted = performance.now();
  const identities = await writeGallery(opts.dataDir, plan, checkpoint, all, info, { skipped, sources });
  writeSeconds = (performance.now() - writeStarted) / 1000;
  log.info({ faces: summary('complete', identities).faces, identities }, 'imdb-wiki index built');
  checkpoint.remove();
  return ok(summary('complete', identities));
}

/** Each planned row's first record, in file order. */
function firstRecordPerRow(index: readonly RecordIndex[], planned: ReadonlySet<number>): Map<number, RecordIndex> {
  const first = new Map<number, RecordIndex>();
  for (const e of index) if (planned.has(e.row) && !first.has(e.row)) first.set(e.row, e);
  return first;
}

function toRecord(r: FaceTaskResult): CheckpointRecord {
  if (!r.ok) return { kind: 'skip', row: r.key, code: r.code };
  return { kind: 'face', row: r.key, box: r.box, source: r.source, descriptor: r.descriptor, thumbnail: r.thumbnail };
}

function checkpointCreatedAt(dir: string): string {
  return (JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { createdAt: string }).createdAt;
}

function readModelInfo(dir: string): ModelInfo | null {
  const file = path.join(dir, MODEL_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ModelInfo) : null;
}

/** Faces in row order, so that a resumed build writes the same index as an uninterrupted one. Returns the identity count. */
async function writeGallery(
  dataDir: string,
  plan: BuildPlan,
  checkpoint: Checkpoint,
  records: Map<number, RecordIndex>,
  info: ModelInfo,
  outcome: { skipped: Record<string, number>; sources: Partial<Record<FaceSource, number>> },
): Promise<number> {
  const { meta } = plan;
  const faceRows = [...records.values()].filter((e) => e.kind === 'face').sort((a, b) => a.row - b.row);
  const target = indexDir(dataDir);
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const gallery = Gallery.create(building, galleryInfoOf(info), faceRows.length);
  const faces: ImdbWikiBuildInfo['faces'] = { row: [], faceScore: [], gender: [], age: [] };
  try {
    for (const entry of faceRows) {
      const rec = checkpoint.read(entry);
      if (rec.kind !== 'face') continue;
      const row = rec.row;
      const gender = meta.gender[row]!;
      const age = ageAtPhoto(meta.dob[row]!, meta.photoTaken[row]!);
      const photoYear = meta.photoTaken[row]!;
      gallery.add(
        {
          name: nameOf(meta, row),
          image: imagePathOf(plan.root, meta, row)!,
          box: rec.box,
          source: rec.source,
          // gender: 1 male, 0 female, NaN unknown (kept, shown only to people who compare with everyone).
          ...(gender === 0 ? { gender: 'female' as const } : gender === 1 ? { gender: 'male' as const } : {}),
          ...(Number.isInteger(photoYear) ? { photoYear } : {}),
          ...(Number.isInteger(age) ? { age } : {}),
        },
        rec.descriptor,
        rec.thumbnail,
      );
      faces.row.push(row);
      faces.faceScore.push(round(meta.faceScore[row]!));
      faces.gender.push(Number.isNaN(gender) ? null : gender);
      faces.age.push(Number.isFinite(age) ? age : null);
    }
    await gallery.save();
    const scores = meta.faceScore.filter(Number.isFinite);
    const lo = Math.floor(Math.min(0, minOf(scores)));
    const hi = Math.ceil(Math.max(lo + 1, maxOf(scores) + 1e-9));
    writeBuildInfo(building, {
      version: 1,
      variant: meta.variant,
      root: plan.root,
      matPath: plan.matPath,
      builtAt: new Date().toISOString(),
      cleaning: plan.stats.toJSON(),
      skipped: outcome.skipped,
      sources: outcome.sources,
      faceScore: { all: histogram(scores, lo, hi, SCORE_BIN), indexed: histogram(faces.faceScore, lo, hi, SCORE_BIN) },
      faces,
    });
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
  swapInto(building, target);
  return gallery.identityCount;
}

/** face_score histogram bin width. */
const SCORE_BIN = 0.25;

function minOf(xs: Float64Array): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

function maxOf(xs: Float64Array): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
