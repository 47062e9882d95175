import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { decodeImage } from '../src/core/decode.ts';
import { loadDetector } from '../src/core/detect/detector.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import { buildImdbWikiIndex, type ImdbWikiBuildSummary } from '../src/jobs/imdbWiki/buildImdbWikiIndex.ts';
import { writeImdbWikiTree, type TreeEntry } from '../tests/support/imdbWikiTree.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { machine } from './stats.ts';

// Faces per second of the IMDB-WIKI index build with the default model, with every core working, on
// a crop folder in the dataset's layout, repeated to the size asked (the same-bytes rule is off so
// repeats count). Two kinds of folder:
//   'photos': symlinks to the shared photos as they are (1.1 MP on average, a third of them tight
//             150 px face crops with no margin): harder than the dataset's crops;
//   'crops':  crops cut from the shared photos the way IMDB-WIKI cut its own (the face box grown by
//             40 % on each side, padded) at the dataset's typical size: imdb_crop.tar holds 7 GB for
//             460,723 crops, 15 KB each, which is a JPEG of about 250 px (wiki.mat's first row: a
//             141 px face box, so a 254 px crop). Written to a temporary folder, deleted afterwards.
// Peak memory is the process's (main thread and workers share it). CPU time over all threads, taken
// between the first and the last batch, gives the rate the same work reaches on an idle machine; on
// a shared one the wall-clock rate also measures the neighbours.

export type TreeKind = 'photos' | 'crops';

export interface ImdbBuildBench {
  kind: TreeKind;
  machine: string;
  crops: number;
  cores: number;
  workers: number;
  /** 1-minute load average at start and end; above the core count, others are using the machine. */
  loadAverage: [number, number];
  /** Mean megapixels and file kilobytes of the images behind the crops. */
  photoMegapixels: number;
  photoKilobytes: number;
  /** Wall-clock crops per second while the pool ran (worker start-up excluded). */
  facesPerSecond: number;
  /** Crops per second of CPU time (all threads), times the core count: the rate on an idle machine. */
  cpuBoundFacesPerSecond: number;
  cpuSecondsPerFace: number;
  phases: ImdbWikiBuildSummary['phases'];
  /** Share of the workers' time in each stage. */
  stageShare: Record<string, number>;
  /** Milliseconds per crop in each stage, summed over workers. */
  stageMsPerFace: Record<string, number>;
  sources: ImdbWikiBuildSummary['sources'];
  peakRssMb: number;
  /** Projected wall-clock hours at facesPerSecond and at cpuBoundFacesPerSecond (processing plus index write). */
  projectedHours: { cleanedImdb95k: [number, number]; allImdb460k: [number, number] };
  /**
   * The progress bar's ETA against the time the build really took from then on, over the updates
   * between 10 % and 90 % of the crops: the largest and the median relative error.
   */
  eta: { updates: number; maxError: number; medianError: number };
  targetFacesPerSecond: 80;
}

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

interface Source {
  person: string;
  file: string;
  /** The image file itself (the shared photo, or a crop cut from it). */
  path: string;
}

function sharedPhotos(): Source[] {
  const out: Source[] = [];
  for (const person of readdirSync(peopleDir).sort()) {
    for (const file of readdirSync(path.join(peopleDir, person)).sort()) out.push({ person, file, path: path.join(peopleDir, person, file) });
  }
  return out;
}

/** The face side of a dataset-style crop: wiki.mat's first row has a 141 px box. */
const DATASET_FACE_SIDE = 140;

/**
 * Dataset-style crops of the shared photos: the largest face's box, a fifth larger (the dataset's
 * detector boxes are looser than ours), grown by 40 % on each side, padded black, scaled so that the
 * box is DATASET_FACE_SIDE pixels.
 */
async function datasetCrops(dir: string, modelsDir: string): Promise<Source[]> {
  mkdirSync(dir, { recursive: true });
  const detector = await loadDetector('blazeface', { modelsDir, device: 'cpu' });
  if (!detector.ok) throw new Error(detector.error.message);
  const out: Source[] = [];
  for (const [i, p] of sharedPhotos().entries()) {
    const image = await decodeImage(await readFile(p.path));
    if (!image.ok) continue;
    const [face] = await detector.value.detect(image.value, { maxFaces: 1 });
    if (!face) continue;
    const { width: W, height: H } = image.value;
    const side = Math.max(face.box.width, face.box.height) * 1.2;
    const cx = face.box.x + face.box.width / 2;
    const cy = face.box.y + face.box.height / 2;
    const span = Math.round(side * 1.8);
    const left = Math.round(cx - span / 2);
    const top = Math.round(cy - span / 2);
    const inside = { left: Math.max(0, left), top: Math.max(0, top), right: Math.min(W, left + span), bottom: Math.min(H, top + span) };
    const crop = await sharp(image.value.data, { raw: { width: W, height: H, channels: 3 } })
      .extract({ left: inside.left, top: inside.top, width: inside.right - inside.left, height: inside.bottom - inside.top })
      .extend({ left: inside.left - left, top: inside.top - top, right: left + span - inside.right, bottom: top + span - inside.bottom, background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer();
    const target = Math.round(DATASET_FACE_SIDE * 1.8);
    const jpeg = await sharp(crop, { raw: { width: span, height: span, channels: 3 } }).resize(target, target).jpeg({ quality: 90 }).toBuffer();
    const file = path.join(dir, `${i}.jpg`);
    await writeFile(file, jpeg);
    out.push({ person: p.person, file: `${i}.jpg`, path: file });
  }
  await detector.value.dispose();
  return out;
}

export interface BenchOptions {
  kind?: TreeKind;
  crops?: number;
  workers?: number;
  concurrency?: number;
  modelsDir?: string;
}

export async function benchImdbBuild(opts: BenchOptions = {}): Promise<ImdbBuildBench> {
  const kind = opts.kind ?? 'photos';
  const crops = opts.crops ?? 1200;
  const modelsDir = opts.modelsDir ?? loadConfig().modelsDir;
  const work = await mkdtemp(path.join(os.tmpdir(), 'lookalike-bench-imdb-'));
  try {
    const sources = kind === 'photos' ? sharedPhotos() : await datasetCrops(path.join(work, 'generated'), modelsDir);
    const entries: TreeEntry[] = Array.from({ length: crops }, (_, i) => {
      const s = sources[i % sources.length]!;
      return { person: s.person, file: s.file, target: s.path };
    });
    const tree = await writeImdbWikiTree(path.join(work, 'wiki_crop'), entries, 'wiki');
    let pixels = 0;
    let bytes = 0;
    for (const s of sources) {
      const meta = await sharp(s.path).metadata();
      pixels += (meta.width ?? 0) * (meta.height ?? 0);
      bytes += readFileSync(s.path).length;
    }

    const load0 = os.loadavg()[0]!;
    // CPU time is taken between the first and the last batch: worker start-up and the index write
    // are reported as phases of their own.
    let cpuFirst: NodeJS.CpuUsage | null = null;
    let cpuLast: NodeJS.CpuUsage | null = null;
    let doneFirst = 0;
    let doneLast = 0;
    const etas: { at: number; done: number; eta: number | null }[] = [];
    const built = await buildImdbWikiIndex({
      root: tree.root,
      variant: 'wiki',
      dataDir: path.join(work, 'data'),
      modelsDir,
      device: 'cpu',
      workers: opts.workers,
      concurrency: opts.concurrency,
      dedupeBytes: false,
      resume: false,
      onProgress: ({ done, etaSeconds }) => {
        etas.push({ at: performance.now(), done, eta: etaSeconds });
        if (!cpuFirst) {
          cpuFirst = process.cpuUsage();
          doneFirst = done;
        }
        cpuLast = process.cpuUsage();
        doneLast = done;
      },
    });
    if (!built.ok) throw new Error(built.error.message);
    const s = built.value;
    const end = etas.at(-1)!.at;
    const errors = etas
      .filter((e) => e.eta !== null && e.done >= 0.1 * crops && e.done <= 0.9 * crops)
      .map((e) => Math.abs(e.eta! - (end - e.at) / 1000) / Math.max(1e-3, (end - e.at) / 1000));
    const sortedErrors = [...errors].sort((a, b) => a - b);
    const cores = os.availableParallelism();
    const first = cpuFirst as NodeJS.CpuUsage | null;
    const last = cpuLast as NodeJS.CpuUsage | null;
    if (!first || !last || doneLast <= doneFirst) throw new Error('too few crops to time; ask for more');
    const cpuSeconds = (last.user + last.system - first.user - first.system) / 1e6;
    const cpuSecondsPerFace = cpuSeconds / (doneLast - doneFirst);
    const stageTotal = Object.values(s.timings).reduce((a, b) => a + b, 0);
    const facesPerSecond = s.rowsPerSecond;
    const cpuBound = cores / cpuSecondsPerFace;
    // The index write (HNSW inserts, one thread) scales with the faces; plan time with the rows.
    const writePerFace = s.phases.write / Math.max(1, s.faces);
    const hours = (n: number, rate: number) => round((n / rate + n * writePerFace + s.phases.start) / 3600, 2);
    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    return {
      kind,
      machine: machine(),
      crops,
      cores,
      workers: s.workers,
      loadAverage: [round(load0, 2), round(os.loadavg()[0]!, 2)],
      photoMegapixels: round(pixels / sources.length / 1e6, 2),
      photoKilobytes: Math.round(bytes / sources.length / 1024),
      facesPerSecond: round(facesPerSecond),
      cpuBoundFacesPerSecond: round(cpuBound),
      cpuSecondsPerFace: round(cpuSecondsPerFace, 3),
      phases: Object.fromEntries(Object.entries(s.phases).map(([k, v]) => [k, round(v, 2)])) as ImdbWikiBuildSummary['phases'],
      stageShare: Object.fromEntries(Object.entries(s.timings).map(([k, v]) => [k, round(v / stageTotal, 3)])),
      stageMsPerFace: Object.fromEntries(Object.entries(s.timings).map(([k, v]) => [k, round(v / crops)])),
      sources: s.sources,
      peakRssMb: Math.round(peakRssMb()),
      projectedHours: {
        cleanedImdb95k: [hours(95_000, facesPerSecond), hours(95_000, cpuBound)],
        allImdb460k: [hours(460_723, facesPerSecond), hours(460_723, cpuBound)],
      },
      eta: {
        updates: errors.length,
        maxError: round(sortedErrors.at(-1) ?? Number.NaN, 3),
        medianError: round(sortedErrors[Math.floor(sortedErrors.length / 2)] ?? Number.NaN, 3),
      },
      targetFacesPerSecond: 80,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// node --import tsx bench/imdbBuild.ts [photos|crops|both] [crops] [workers] [images per worker]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const which = process.argv[2] ?? 'both';
  const crops = process.argv[3] ? Number(process.argv[3]) : undefined;
  const workers = process.argv[4] ? Number(process.argv[4]) : undefined;
  const concurrency = process.argv[5] ? Number(process.argv[5]) : undefined;
  const kinds: TreeKind[] = which === 'both' ? ['photos', 'crops'] : [which as TreeKind];
  const results = [];
  for (const kind of kinds) results.push(await benchImdbBuild({ kind, crops, workers, concurrency }));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
