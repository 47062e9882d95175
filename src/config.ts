import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './core/errors.ts';

// The environment is read once, here, and validated. Errors name the variable, never its value.

export type Device = 'cpu' | 'cuda' | 'auto';

export interface Config {
  dataDir: string;
  device: Device;
  /** Where generated model files live (models/ in the checkout unless overridden). */
  modelsDir: string;
  /** DATABASE_URL: undefined for the embedded SQLite file; checked by the store when it opens. */
  databaseUrl: string | undefined;
}

// fileURLToPath, not URL.pathname: a checkout path with a space (or any escaped character) must stay a path.
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const device = (env.LOOKALIKE_DEVICE ?? 'auto').toLowerCase();
  if (device !== 'cpu' && device !== 'cuda' && device !== 'auto') {
    throw new ConfigError('LOOKALIKE_DEVICE must be one of cpu, cuda, auto');
  }
  return Object.freeze({
    dataDir: path.resolve(env.LOOKALIKE_DATA_DIR ?? 'data'),
    device,
    modelsDir: path.resolve(env.LOOKALIKE_MODELS_DIR ?? path.join(projectRoot, 'models')),
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
  });
}

/** Reads a variable that a feature cannot run without. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set: ${why}`);
  return value;
}

/** Checks that a variable holds an http(s) URL; the error names the variable, never the value. */
export function checkHttpUrl(name: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`${name} must be an http(s) URL`);
}
