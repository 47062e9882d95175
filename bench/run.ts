import os from 'node:os';
import { benchEmbedding } from './embedding.ts';
import { benchHnsw } from './hnsw.ts';
import { benchPipeline } from './pipeline.ts';

// `npm run bench`: every benchmark in one run, printed as the table the README keeps.
// `npm run bench -- --hnsw-size 100000` shortens the HNSW part (the full 460,000 takes long on 2 cores).

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

const machine = `${os.cpus()[0]?.model.trim()} x${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg()[0]!.toFixed(1)}`;
console.log(`machine: ${machine}`);

const pipeline = await benchPipeline();
console.log('pipeline', JSON.stringify(pipeline, null, 1));
const embedding = await benchEmbedding();
console.log('embedding', JSON.stringify(embedding, null, 1));
const hnsw = await benchHnsw(arg('--hnsw-size', 460_000), 128, 200, console.log);
console.log('hnsw', JSON.stringify(hnsw, null, 1));

const f = (x: number, d = 1) => x.toFixed(d);
const best = hnsw.rows.find((r) => r.recallAt1 >= 0.99) ?? hnsw.rows.at(-1)!;
console.log(`
| figure | value | target |
|---|---|---|
| decode / detect / embed / search / compose (median ms, ${pipeline.photos} photos) | ${f(pipeline.stagesMs.decode)} / ${f(pipeline.stagesMs.detect)} / ${f(pipeline.stagesMs.embed)} / ${f(pipeline.stagesMs.search, 2)} / ${f(pipeline.stagesMs.compose)} | |
| end-to-end match, ${f(pipeline.endToEnd.megapixels)} MP photos, models loaded (median ms) | ${f(pipeline.endToEnd.medianMs)} | <= 200 |
| embedding, ONNX Runtime (ms/face, batch 1 / batch 8) | ${f(embedding.ortMsPerFace)} / ${f(embedding.ortBatch8MsPerFace)} | <= 15 |
| embedding, face-api tfjs-wasm (ms/face) | ${f(embedding.tfjsWasmMsPerFace)} | |
| ORT speed-up over tfjs-wasm | ${f(embedding.tfjsWasmMsPerFace / embedding.ortMsPerFace)}x | >= 5x |
| HNSW over ${hnsw.vectors} random ${hnsw.dims}-D vectors: build, memory | ${f(hnsw.buildSeconds, 0)} s, ${f(hnsw.indexMemoryMb, 0)} MB | |
| HNSW recall@1 / speed-up over exact search (ef ${best.efSearch}) | ${f(best.recallAt1, 3)} / ${f(best.speedUp, 0)}x | >= 0.99 / >= 50x |
machine: ${machine}`);
