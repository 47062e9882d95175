import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { composeReply } from '../src/core/compose.ts';
import { decodeImage } from '../src/core/decode.ts';
import { tryOpenEngine } from '../src/core/engine.ts';
import { chipForModel, cropForDisplay } from '../src/core/faces.ts';
import { Gallery } from '../src/core/gallery.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { buildPeopleIndex, loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { MATCH_SEARCH } from './detect.ts';
import { median, timeMs } from './stats.ts';

// Time per stage over the shared photos, and the whole `match` (models loaded) on 1-2.5 MP photos.
// Detection is timed as `match` searches (MATCH_SEARCH); embed is the aligned chip and the model.

export interface PipelineBench {
  photos: number;
  stagesMs: { decode: number; detect: number; embed: number; search: number; compose: number };
  endToEnd: { photos: number; megapixels: number; medianMs: number };
}

export async function benchPipeline(): Promise<PipelineBench> {
  const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });
  const { dataDir } = await buildPeopleIndex();
  const opened = await tryOpenEngine({ dataDir, modelsDir: config.modelsDir, device: 'cpu' });
  if (!opened.ok) throw new Error(opened.error.message);
  const engine = opened.value;
  const galleryOpened = await Gallery.open(path.join(dataDir, 'index'));
  if (!galleryOpened.ok) throw new Error(galleryOpened.error.message);
  const gallery = galleryOpened.value;
  const pipeline = await loadPipeline();
  const model = pipeline.embedder;

  const t = { decode: [] as number[], detect: [] as number[], embed: [] as number[], search: [] as number[], compose: [] as number[] };
  const big: { bytes: Buffer; mp: number }[] = [];
  for (const img of listGalleryImages(peopleDir)) {
    const bytes = readFileSync(img.path);
    const [decodeMs, decoded] = await timeMs(() => decodeImage(bytes));
    if (!decoded.ok) continue;
    t.decode.push(decodeMs);
    const mp = (decoded.value.width * decoded.value.height) / 1e6;
    if (mp >= 1 && mp <= 2.5) big.push({ bytes, mp });
    const [detectMs, faces] = await timeMs(() => pipeline.detector.detect(decoded.value, MATCH_SEARCH));
    t.detect.push(detectMs);
    const face = faces[0];
    if (!face) continue;
    const [embedMs, [descriptor]] = await timeMs(async () => model.predict([await chipForModel(decoded.value, face, model)]));
    t.embed.push(embedMs);
    const [searchMs, hits] = await timeMs(() => gallery.search(descriptor!, 5));
    t.search.push(searchMs);
    const tile = await cropForDisplay(decoded.value, face.box, 320);
    const match = { name: hits[0]!.name, similarity: hits[0]!.similarity, face: tile };
    const [composeMs] = await timeMs(() => composeReply([{ userFace: tile, best: match, runnersUp: [match, match, match, match] }]));
    t.compose.push(composeMs);
  }

  const e2e: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const { bytes } of big) {
      const [ms, result] = await timeMs(() => engine.match(bytes));
      if (result.ok) e2e.push(ms);
    }
  }
  await Promise.all([engine.close(), pipeline.dispose()]);
  return {
    photos: t.decode.length,
    stagesMs: {
      decode: median(t.decode),
      detect: median(t.detect),
      embed: median(t.embed),
      search: median(t.search),
      compose: median(t.compose),
    },
    endToEnd: { photos: big.length, megapixels: median(big.map((b) => b.mp)), medianMs: median(e2e) },
  };
}
