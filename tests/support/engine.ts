import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { DEFAULT_DETECTOR, loadDetector, type DetectorName } from '../../src/core/detect/detector.ts';
import type { FacePipeline } from '../../src/core/faces.ts';
import type { FaceEmbedder } from '../../src/core/models/embedder.ts';
import { loadModel } from '../../src/core/models/registry.ts';
import { buildIndex, type BuildSummary } from '../../src/jobs/buildIndex.ts';
import { peopleDir } from './paths.ts';

// Shared set-up for tests that need the real models and a real index built from the shared photos.

export const config = loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' });

export async function loadDefaultModel(): Promise<FaceEmbedder> {
  const model = await loadModel('default', { modelsDir: config.modelsDir, device: 'cpu' });
  if (!model.ok) throw new Error(model.error.message);
  return model.value;
}

/** The default detector and model, as the engine loads them. */
export async function loadPipeline(detectorName: DetectorName = DEFAULT_DETECTOR): Promise<FacePipeline & { dispose(): Promise<void> }> {
  const detector = await loadDetector(detectorName, { modelsDir: config.modelsDir, device: 'cpu' });
  if (!detector.ok) throw new Error(detector.error.message);
  const embedder = await loadDefaultModel();
  return {
    detector: detector.value,
    embedder,
    dispose: async () => {
      await Promise.all([detector.value.dispose(), embedder.dispose()]);
    },
  };
}

/** Builds an index of the shared people into a fresh data dir. */
export async function buildPeopleIndex(exclude?: (file: string) => boolean, detector?: DetectorName): Promise<{ dataDir: string; summary: BuildSummary }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lookalike-data-'));
  const built = await buildIndex({ folder: peopleDir, dataDir, modelsDir: config.modelsDir, device: 'cpu', exclude, detector });
  if (!built.ok) throw new Error(built.error.message);
  return { dataDir, summary: built.value };
}
