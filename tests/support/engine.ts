import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { decodeImage } from '../../src/core/decode.ts';
import { describeFaces, type DescribedFace } from '../../src/core/faces.ts';
import type { FaceEmbedder } from '../../src/core/models/embedder.ts';
import { loadModel } from '../../src/core/models/registry.ts';
import { buildIndex, type BuildSummary } from '../../src/jobs/buildIndex.ts';
import { peopleDir } from './paths.ts';

// Shared set-up for tests that need the real model and a real index built from the shared photos.

export const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });

export async function loadDefaultModel(): Promise<FaceEmbedder> {
  const model = await loadModel('default', { modelsDir: config.modelsDir, device: 'cpu' });
  if (!model.ok) throw new Error(model.error.message);
  return model.value;
}

/** The largest face of a photo, described; null when none is found. */
export async function describeFile(file: string, model: FaceEmbedder): Promise<DescribedFace | null> {
  const image = await decodeImage(await readFile(file));
  if (!image.ok) throw new Error(`${file}: ${image.error.message}`);
  const [face] = await describeFaces(image.value, model, 1);
  return face ?? null;
}

/** Builds an index of the shared people into a fresh data dir. */
export async function buildPeopleIndex(exclude?: (file: string) => boolean): Promise<{ dataDir: string; summary: BuildSummary }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lookalike-data-'));
  const built = await buildIndex({ folder: peopleDir, dataDir, modelsDir: config.modelsDir, device: 'cpu', exclude });
  if (!built.ok) throw new Error(built.error.message);
  return { dataDir, summary: built.value };
}
