import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { indexDir } from '../src/core/engine.ts';
import { Gallery } from '../src/core/gallery.ts';
import type { FaceEmbedder } from '../src/core/models/embedder.ts';
import { cosine } from '../src/core/similarity.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { buildPeopleIndex, describeFile, loadDefaultModel } from './support/engine.ts';
import { bestAccuracy, rocAuc } from './support/eval.ts';
import { facesDir, peopleDir } from './support/paths.ts';

// Accuracy of the whole pipeline (Haar detection, crop, FaceRecognitionNet on ONNX Runtime) on real photos.

let model: FaceEmbedder;
before(async () => {
  model = await loadDefaultModel();
});
after(async () => {
  await model.dispose();
});

test('verification on deepface_pairs.csv: ROC AUC >= 0.98', async () => {
  const rows = readFileSync(path.join(facesDir, 'deepface_pairs.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const cache = new Map<string, Promise<Float32Array | null>>();
  const describe = (rel: string) => {
    if (!cache.has(rel)) cache.set(rel, describeFile(path.join(facesDir, rel), model).then((f) => f?.descriptor ?? null));
    return cache.get(rel)!;
  };
  const pairs = [];
  let noFace = 0;
  for (const row of rows) {
    const [a, b, same] = row.split(',');
    const [da, db] = [await describe(a!), await describe(b!)];
    // A pair where either face is missed scores as "nothing alike": the pipeline's misses count against it.
    if (!da || !db) noFace++;
    pairs.push({ score: da && db ? cosine(da, db) : -1, same: same === '1' });
  }
  const auc = rocAuc(pairs);
  const { accuracy, threshold } = bestAccuracy(pairs);
  console.log(
    `deepface pairs: ${pairs.length} pairs (${pairs.filter((p) => p.same).length} same), ${noFace} with a face missed; ` +
      `ROC AUC ${auc.toFixed(4)}, best accuracy ${(accuracy * 100).toFixed(1)} % at cosine >= ${threshold.toFixed(3)}`,
  );
  assert.equal(pairs.length, 531);
  assert.ok(auc >= 0.98, `ROC AUC ${auc}`);
});

test('leave-one-out identity retrieval over shared people: top-1 >= 0.90', async () => {
  const { dataDir, summary } = await buildPeopleIndex();
  try {
    const opened = await Gallery.open(indexDir(dataDir));
    assert.ok(opened.ok);
    const gallery = opened.value;
    const images = listGalleryImages(peopleDir);
    const perPerson = new Map<string, number>();
    for (const img of images) perPerson.set(img.name, (perPerson.get(img.name) ?? 0) + 1);
    const queries = images.filter((img) => perPerson.get(img.name)! >= 2);

    let top1 = 0;
    let top5 = 0;
    let noFace = 0;
    const misses: string[] = [];
    for (const query of queries) {
      const face = await describeFile(query.path, model);
      if (!face) {
        noFace++;
        misses.push(`${path.relative(peopleDir, query.path)} (no face)`);
        continue;
      }
      const self = path.resolve(query.path);
      const names = gallery.search(face.descriptor, 5, { exclude: (hit) => hit.image === self }).map((h) => h.name);
      if (names[0] === query.name) top1++;
      else misses.push(`${path.relative(peopleDir, query.path)} -> ${names[0]}`);
      if (names.includes(query.name)) top5++;
    }
    const n = queries.length;
    console.log(
      `leave-one-out: ${n} queries over ${summary.faces} indexed faces of ${summary.identities} people; ` +
        `top-1 ${(top1 / n).toFixed(3)}, top-5 ${(top5 / n).toFixed(3)}, no face in ${noFace}; misses: ${misses.join('; ')}`,
    );
    assert.ok(n >= 100, `only ${n} queries`);
    assert.ok(top1 / n >= 0.9, `top-1 ${top1 / n}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
