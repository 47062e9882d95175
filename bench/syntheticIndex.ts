import { closeSync, mkdirSync, openSync, readdirSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readImageFile } from '../src/core/decode.ts';
import { DEFAULT_DETECTOR } from '../src/core/detect/detector.ts';
import { FaceRows, type FaceRow } from '../src/core/galleryRows.ts';
import { thumbnailJpeg } from '../src/core/tiles.ts';
import { loadPipeline } from '../tests/support/engine.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { rng } from './stats.ts';

// An index of IMDB's size written straight to disk for the start-up benchmark: gallery.json and
// faces.bin with every face's metadata (IMDB-style names and paths), faces.hnsw in hnswlib's own file
// format, and thumbs.bin. Building a real HNSW graph of 460,000 vectors takes 20 minutes here (bench/hnsw.ts);
// loading one only reads the file, so this one has the real format and size (M 16, 128-D) but random
// links: a search through it finds nothing meaningful, quickly. Thumbnails are a few dozen real
// ones, referenced in turn by every face, so that the file stays small while every face has one.

export interface SyntheticIndex {
  dir: string;
  /** The same faces as format 1 (rows in gallery.json), sharing faces.hnsw and thumbs.bin. */
  format1Dir: string;
  faces: number;
  identities: number;
  bytes: { meta: number; vectors: number; thumbs: number };
}

const DIMS = 128;
const M = 16;
const MAX_M0 = 2 * M;

/** hnswlib's saveIndex layout (hnswalg.h) for a graph with every element on level 0. */
function writeHnsw(file: string, count: number, next: () => number): number {
  const linksBytes = 4 + MAX_M0 * 4;
  const vectorBytes = DIMS * 4;
  const perElement = linksBytes + vectorBytes + 8;
  const header = Buffer.alloc(8 * 6 + 4 + 4 + 8 * 3 + 8 + 8);
  let at = 0;
  const size = (v: number) => {
    header.writeBigUInt64LE(BigInt(v), at);
    at += 8;
  };
  size(0); // offsetLevel0_
  size(count); // max_elements_
  size(count); // cur_element_count
  size(perElement); // size_data_per_element_
  size(linksBytes + vectorBytes); // label_offset_
  size(linksBytes); // offsetData_
  header.writeInt32LE(0, at); // maxlevel_
  at += 4;
  header.writeUInt32LE(0, at); // enterpoint_node_
  at += 4;
  size(M); // maxM_
  size(MAX_M0); // maxM0_
  size(M); // M_
  header.writeDoubleLE(1 / Math.log(M), at); // mult_
  at += 8;
  size(200); // ef_construction_
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    written += writeSync(fd, header);
    const chunk = 4096;
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const buf = Buffer.alloc(n * perElement);
      for (let k = 0; k < n; k++) {
        const id = start + k;
        const o = k * perElement;
        buf.writeUInt32LE(MAX_M0, o);
        for (let l = 0; l < MAX_M0; l++) buf.writeUInt32LE(Math.floor(next() * count), o + 4 + 4 * l);
        // A unit vector, as the cosine space stores them.
        const v = new Float32Array(DIMS);
        let norm = 0;
        for (let d = 0; d < DIMS; d++) {
          v[d] = next() - 0.5;
          norm += v[d]! * v[d]!;
        }
        norm = Math.sqrt(norm);
        for (let d = 0; d < DIMS; d++) buf.writeFloatLE(v[d]! / norm, o + linksBytes + 4 * d);
        buf.writeBigUInt64LE(BigInt(id), o + linksBytes + vectorBytes);
      }
      written += writeSync(fd, buf);
    }
    // Upper-level link lists: none.
    written += writeSync(fd, Buffer.alloc(4 * count));
  } finally {
    closeSync(fd);
  }
  return written;
}

export async function writeSyntheticIndex(dataDir: string, faces = 460_723, identities = 20_284): Promise<SyntheticIndex> {
  const dir = path.join(dataDir, 'index');
  mkdirSync(dir, { recursive: true });
  const next = rng(460);

  // A few dozen real thumbnails, as an index build writes them.
  const pipeline = await loadPipeline();
  const thumbs: Buffer[] = [];
  for (const person of readdirSync(peopleDir).sort()) {
    const file = path.join(peopleDir, person, readdirSync(path.join(peopleDir, person)).sort()[0]!);
    const image = await readImageFile(file);
    if (!image.ok) continue;
    const [face] = await pipeline.detector.detect(image.value, { maxFaces: 1 });
    if (face) thumbs.push(await thumbnailJpeg(image.value, face.box));
  }
  await pipeline.dispose();
  const thumbAt: [number, number][] = [];
  let offset = 0;
  for (const t of thumbs) {
    thumbAt.push([offset, t.length]);
    offset += t.length;
  }
  writeFileSync(path.join(dir, 'thumbs.bin'), Buffer.concat(thumbs));

  const names = Array.from({ length: identities }, (_, i) => `Synthetic Person ${String(i + 1).padStart(5, '0')}`);
  const rows: FaceRow[] = [];
  for (let i = 0; i < faces; i++) {
    const person = Math.floor(next() * identities);
    const [o, l] = thumbAt[i % thumbAt.length]!;
    const nm = `nm${String(1_000_000 + person).padStart(7, '0')}`;
    const image = `/data/datasets/imdb_crop/${String(i % 100).padStart(2, '0')}/${nm}_rm${1_000_000_000 + i}_1970-1-1_2004.jpg`;
    rows.push([person, image, 80, 80, 140, 140, 'blazeface', o, l]);
  }
  // The same index as format 1 wrote it (the faces as rows in gallery.json), for comparison.
  const v1 = path.join(dataDir, 'index-format1');
  mkdirSync(v1, { recursive: true });
  const table = FaceRows.fromArray(rows).encode();
  writeFileSync(path.join(dir, 'faces.bin'), table.bytes);
  const meta = JSON.stringify({
    version: 2,
    modelId: 'default',
    descriptor: '128',
    dims: DIMS,
    detector: DEFAULT_DETECTOR,
    alignment: 'keypoints',
    precision: 'fp32',
    createdAt: new Date().toISOString(),
    identities: names,
    faceCount: faces,
    faceSources: table.sources,
  });
  writeFileSync(path.join(dir, 'gallery.json'), meta);
  const { faceCount: _n, faceSources: _s, ...common } = JSON.parse(meta) as Record<string, unknown>;
  writeFileSync(path.join(v1, 'gallery.json'), JSON.stringify({ ...common, version: 1, faces: rows }));
  const vectors = writeHnsw(path.join(dir, 'faces.hnsw'), faces, next);
  for (const file of ['faces.hnsw', 'thumbs.bin']) symlinkSync(path.join(dir, file), path.join(v1, file));
  return { dir, format1Dir: v1, faces, identities, bytes: { meta: Buffer.byteLength(meta) + table.bytes.length, vectors, thumbs: offset } };
}
