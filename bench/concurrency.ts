import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchOptions } from '../src/core/batcher.ts';
import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS } from '../src/bots/shared/limits.ts';
import { intraOpThreadsFor, tryOpenEngine } from '../src/core/engine.ts';
import { setImageThreads, sharp } from '../src/core/runtime/sharp.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { buildPeopleIndex, config } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { loadNow, machine, median, percentile } from './stats.ts';

// Many photos at once: the engine as a bot runs it (photo bytes to reply picture), with 1, 2 and 8
// photos in flight (a closed loop: each finished photo lets the next one start), on the shared 1-2.5
// MP photos. Photos per second and latency percentiles, for the engine as `match` opens it, as the
// bots and workers open it (threads shared out among their requests), and with every core for ONNX
// Runtime, faces of concurrent requests embedded alone or in calls shared after a window.
// Configurations take turns in rounds so that the machine's load falls on all alike.
// `node --import tsx bench/concurrency.ts [rounds]`

export interface ConcurrencyRow {
  config: string;
  inFlight: number;
  photos: number;
  photosPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** Faces per embedding call (1 without batching). */
  facesPerCall: number;
}

export interface ConcurrencyBench {
  machine: string;
  rows: ConcurrencyRow[];
  load: [string, string];
}

interface Config {
  name: string;
  /** ORT threads per inference; undefined: each model's own (engine.ts). */
  intraOpThreads?: number;
  /** libvips threads, process-wide: set before each configuration's turn. */
  imageThreads: number;
  batching: Partial<BatchOptions> | false;
}

const cores = availableParallelism();
const share = intraOpThreadsFor(DEFAULT_LIMITS.concurrency);

export const CONFIGS: Config[] = [
  { name: `\`match\`'s engine (one request at a time): ORT each model's own threads, libvips ${cores}, shared embedding calls`, imageThreads: cores, batching: {} },
  { name: `the bots' and workers' engine (${DEFAULT_LIMITS.concurrency} requests at once): ORT and libvips ${share} thread${share === 1 ? '' : 's'} a request, shared embedding calls`, intraOpThreads: share, imageThreads: share, batching: {} },
  { name: `ORT ${cores} threads, libvips 1, each request embedded alone`, intraOpThreads: cores, imageThreads: 1, batching: false },
  { name: `ORT ${cores} threads, libvips 1, shared calls after a 5 ms window`, intraOpThreads: cores, imageThreads: 1, batching: { windowMs: 5 } },
];

export async function benchConcurrency(rounds = 2, levels: readonly number[] = [1, 2, 8]): Promise<ConcurrencyBench> {
  const load0 = loadNow();
  const { dataDir } = await buildPeopleIndex();
  const photos: Buffer[] = [];
  for (const img of listGalleryImages(peopleDir)) {
    const bytes = readFileSync(img.path);
    const meta = await sharp(bytes).metadata();
    const mp = (meta.width * meta.height) / 1e6;
    if (mp >= 1 && mp <= 2.5) photos.push(bytes);
  }
  const engines = [];
  for (const c of CONFIGS) {
    const opened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu', ...(c.intraOpThreads ? { intraOpThreads: c.intraOpThreads } : {}), imageThreads: c.imageThreads, batching: c.batching });
    if (!opened.ok) throw new Error(opened.error.message);
    for (const p of photos.slice(0, 3)) await opened.value.match(p);
    engines.push(opened.value);
  }
  const results = new Map<string, { latencies: number[]; seconds: number; photos: number; calls: number; faces: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const inFlight of levels) {
      for (const [i, c] of CONFIGS.entries()) {
        const engine = engines[i]!;
        setImageThreads(c.imageThreads);
        const stats = engine.embeddingStats;
        const before = stats ? { ...stats } : { calls: 0, faces: 0 };
        let next = 0;
        const latencies: number[] = [];
        const started = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < photos.length) {
              const bytes = photos[next++]!;
              const t = performance.now();
              const r = await engine.match(bytes);
              if (!r.ok) throw new Error(r.error.message);
              latencies.push(performance.now() - t);
            }
          }),
        );
        const key = `${c.name}|${inFlight}`;
        const entry = results.get(key) ?? { latencies: [], seconds: 0, photos: 0, calls: 0, faces: 0 };
        entry.latencies.push(...latencies);
        entry.seconds += (performance.now() - started) / 1000;
        entry.photos += photos.length;
        if (stats) {
          entry.calls += stats.calls - before.calls;
          entry.faces += stats.faces - before.faces;
        }
        results.set(key, entry);
      }
    }
  }
  for (const e of engines) await e.close();
  const rows: ConcurrencyRow[] = [];
  for (const inFlight of levels) {
    for (const c of CONFIGS) {
      const e = results.get(`${c.name}|${inFlight}`)!;
      rows.push({
        config: c.name,
        inFlight,
        photos: e.photos,
        photosPerSecond: Math.round((e.photos / e.seconds) * 100) / 100,
        p50Ms: Math.round(median(e.latencies)),
        p95Ms: Math.round(percentile(e.latencies, 95)),
        facesPerCall: e.calls > 0 ? Math.round((e.faces / e.calls) * 100) / 100 : 1,
      });
    }
  }
  return { machine: machine(), rows, load: [load0, loadNow()] };
}

export function concurrencyTable(b: ConcurrencyBench): string {
  return [
    '| configuration | photos in flight | photos/s | p50 / p95 ms | faces per embedding call |',
    '|---|---|---|---|---|',
    ...b.rows.map((r) => `| ${r.config} | ${r.inFlight} | ${r.photosPerSecond} | ${r.p50Ms} / ${r.p95Ms} | ${r.facesPerCall} |`),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const b = await benchConcurrency(Number(process.argv[2] ?? 2));
  console.log(`machine: ${b.machine} (load ${b.load.join(' -> ')})`);
  console.log(concurrencyTable(b));
}
