import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors.ts';

// models/manifest.json lists the model files the conversion jobs produced, with their size and
// SHA-256, so that a truncated, swapped or stale file is refused at load instead of giving
// silently wrong descriptors. The file is generated (git-ignored); entries are merged by id.

export const MANIFEST_FILE = 'manifest.json';

export interface ModelEntry {
  /** File name relative to the models folder. */
  file: string;
  sha256: string;
  bytes: number;
  /** Side of the square RGB crop the model takes. */
  inputSize: number;
  /** Descriptor length. */
  dims: number;
  /** Where the weights came from. */
  source: string;
  converted_at: string;
  [extra: string]: unknown;
}

export interface ModelsManifest {
  models: Record<string, ModelEntry>;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function isEntry(value: unknown): value is ModelEntry {
  const e = value as Partial<ModelEntry> | null;
  return (
    typeof e === 'object' && e !== null &&
    typeof e.file === 'string' && typeof e.sha256 === 'string' && typeof e.bytes === 'number' &&
    typeof e.inputSize === 'number' && typeof e.dims === 'number'
  );
}

/** The manifest, or null when there is none yet. Throws ModelLoadError when it is unreadable. */
export async function readModelsManifest(modelsDir: string): Promise<ModelsManifest | null> {
  const file = path.join(modelsDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ModelLoadError(`cannot read ${file}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${file} is not valid JSON; delete it and convert the models again`, { cause: err });
  }
  const models = (parsed as Partial<ModelsManifest> | null)?.models;
  if (typeof models !== 'object' || models === null) {
    throw new ModelLoadError(`${file} has no "models" object; delete it and convert the models again`);
  }
  return { models: models as Record<string, ModelEntry> };
}

/**
 * Finds a model in the manifest and checks that its file is there with the recorded size and
 * SHA-256. `howToFix` is appended to every error so the user knows which command recreates it.
 */
export async function verifyModel(
  modelsDir: string,
  id: string,
  howToFix: string,
): Promise<{ path: string; entry: ModelEntry }> {
  const manifest = await readModelsManifest(modelsDir);
  const entry = manifest?.models[id];
  if (!manifest) {
    throw new ModelLoadError(`no model manifest in ${modelsDir}: the models have not been converted yet; ${howToFix}`);
  }
  if (entry === undefined) {
    throw new ModelLoadError(`model '${id}' is not in ${path.join(modelsDir, MANIFEST_FILE)}; ${howToFix}`);
  }
  if (!isEntry(entry)) {
    throw new ModelLoadError(`the manifest entry for model '${id}' is malformed; ${howToFix}`);
  }
  const file = path.resolve(modelsDir, entry.file);
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch {
    throw new ModelLoadError(`model file ${file} for '${id}' is missing; ${howToFix}`);
  }
  if (bytes !== entry.bytes) {
    throw new ModelLoadError(`model file ${file} has ${bytes} bytes, the manifest says ${entry.bytes}; ${howToFix}`);
  }
  const sha256 = await sha256File(file);
  if (sha256 !== entry.sha256) {
    throw new ModelLoadError(`model file ${file} does not match its SHA-256 in the manifest (corrupt or replaced); ${howToFix}`);
  }
  return { path: file, entry };
}

/** Adds or replaces one model's entry, keeping the others; the file is replaced atomically. */
export async function recordModel(modelsDir: string, id: string, entry: ModelEntry): Promise<void> {
  const current = (await readModelsManifest(modelsDir)) ?? { models: {} };
  const next: ModelsManifest = { models: { ...current.models, [id]: entry } };
  const file = path.join(modelsDir, MANIFEST_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`);
  await rename(tmp, file);
}
