import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { Gallery } from '../src/core/gallery.ts';
import { indexDir, tryOpenEngine } from '../src/core/engine.ts';
import { VectorIndex } from '../src/core/runtime/hnsw.ts';

// One fresh process of bench/startup.ts. 'gallery': how long the index takes to load and the memory
// it holds ('gallery-dir': of the index folder given); 'hnswlib': faces.hnsw loaded by hnswlib itself;
// 'engine': the engine (index and models) opened, then its first photo. One JSON line.

const [mode, dataDir, photo] = process.argv.slice(2) as ['gallery' | 'gallery-dir' | 'hnswlib' | 'engine', string, string];
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const peakMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
const before = rssMb();
const t = performance.now();
if (mode === 'hnswlib') {
  const vectors = await VectorIndex.loadWritable(path.join(indexDir(dataDir), 'faces.hnsw'), 128);
  const loadMs = performance.now() - t;
  (globalThis as { gc?: () => void }).gc?.();
  console.log(JSON.stringify({ faces: vectors.count, loadMs, rssBeforeMb: before, rssMb: rssMb(), peakRssMb: peakMb() }));
} else if (mode === 'gallery' || mode === 'gallery-dir') {
  const gallery = await Gallery.open(mode === 'gallery' ? indexDir(dataDir) : dataDir);
  if (!gallery.ok) throw new Error(gallery.error.message);
  const loadMs = performance.now() - t;
  // What the index holds once loaded (garbage from parsing collected where the runtime allows).
  (globalThis as { gc?: () => void }).gc?.();
  console.log(JSON.stringify({ faces: gallery.value.size, loadMs, rssBeforeMb: before, rssMb: rssMb(), peakRssMb: peakMb() }));
} else {
  const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
  const engine = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  if (!engine.ok) throw new Error(engine.error.message);
  const openMs = performance.now() - t;
  const t2 = performance.now();
  const result = await engine.value.match(readFileSync(photo));
  const firstMatchMs = performance.now() - t2;
  if (!result.ok) throw new Error(result.error.message);
  console.log(JSON.stringify({ openMs, firstMatchMs, rssMb: rssMb(), peakRssMb: peakMb(), sinceProcessStartMs: performance.now() }));
  await engine.value.close();
}
