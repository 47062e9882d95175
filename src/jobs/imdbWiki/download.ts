import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fail, ok, type Result } from '../../core/result.ts';
import type { ImdbWikiVariant } from './metadata.ts';

// `lookalike dataset download imdb|wiki`: the face-crop archives from the dataset's page at ETH
// Zurich (Rothe, Timofte, Van Gool; for research use), fetched with node's fetch and unpacked with
// tar. An interrupted download continues where it stopped (HTTP Range) when run again.

export const DATASET_BASE_URL = 'https://data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki/static';

export const DATASETS: Record<ImdbWikiVariant, { archive: string; folder: string; approxBytes: number; description: string }> = {
  imdb: { archive: 'imdb_crop.tar', folder: 'imdb_crop', approxBytes: 7.0e9, description: '460,723 face crops of 20,284 people (about 7 GB)' },
  wiki: { archive: 'wiki_crop.tar', folder: 'wiki_crop', approxBytes: 0.8e9, description: '62,328 face crops (about 0.8 GB)' },
};

export interface DownloadOptions {
  /** Where the archive goes and is unpacked. */
  dir: string;
  /** Default DATASET_BASE_URL; tests point it at a local server. */
  baseUrl?: string;
  keepArchive?: boolean;
  onProgress?: (received: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface Downloaded {
  /** The unpacked crop folder, ready for `index build --imdb/--wiki`. */
  folder: string;
  matPath: string;
  bytes: number;
}

export async function downloadDataset(variant: ImdbWikiVariant, opts: DownloadOptions): Promise<Result<Downloaded>> {
  const spec = DATASETS[variant];
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, spec.archive);
  const partial = `${archive}.part`;
  const url = `${(opts.baseUrl ?? DATASET_BASE_URL).replace(/\/$/, '')}/${spec.archive}`;

  if (!existsSync(archive)) {
    const have = existsSync(partial) ? statSync(partial).size : 0;
    let response: Response;
    try {
      response = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, signal: opts.signal });
    } catch (err) {
      return fail('missing_file', `Could not reach ${url}: ${(err as Error).message}`);
    }
    if (!response.ok || !response.body) return fail('missing_file', `${url} answered HTTP ${response.status} ${response.statusText}`);
    const resumed = response.status === 206;
    const length = Number(response.headers.get('content-length'));
    const total = Number.isFinite(length) && length > 0 ? length + (resumed ? have : 0) : null;
    let received = resumed ? have : 0;
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      opts.onProgress?.(received, total);
    });
    await pipeline(body, createWriteStream(partial, { flags: resumed ? 'a' : 'w' }));
    if (total !== null && received !== total) return fail('missing_file', `The download of ${url} stopped at ${received} of ${total} bytes; run the command again to continue.`);
    renameSync(partial, archive);
  }

  const untarred = await run('tar', ['-xf', archive, '-C', dir]);
  if (untarred !== 0) return fail('corrupt_image', `tar could not unpack ${archive} (exit code ${untarred}); delete it and download again.`);
  const bytes = statSync(archive).size;
  if (!opts.keepArchive) rmSync(archive);
  const folder = path.join(dir, spec.folder);
  const matPath = path.join(folder, `${variant}.mat`);
  if (!existsSync(matPath)) return fail('missing_file', `The archive did not hold ${spec.folder}/${variant}.mat`);
  return ok({ folder, matPath, bytes });
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
