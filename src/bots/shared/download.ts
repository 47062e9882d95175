import { open } from 'node:fs/promises';
import { fail, ok, type Result } from '../../core/result.ts';

// Fetching a user's file with a size limit that always holds: every download has one (the limit of what
// the file will be used for), a declared length over it is refused before the body is read, and the
// bytes are counted as they arrive, so a server that does not say, or lies about, the length costs at
// most the limit. Files on this machine's disk (a self-hosted Bot API server in --local mode) are sized
// before they are opened for reading.

export class DownloadError extends Error {
  constructor(readonly status: number) {
    super(`file download failed: HTTP ${status}`);
    this.name = 'DownloadError';
  }
}

export interface DownloadLimit {
  maxBytes: number;
  signal?: AbortSignal;
}

function tooLarge<T>(): Result<T> {
  return fail('file_too_large', 'The file is larger than the download limit.');
}

/** The response body as it arrives; refused from its declared length when that is over the limit. */
export async function openUrl(url: string | URL, opts: DownloadLimit): Promise<Result<AsyncIterable<Uint8Array>>> {
  const res = await fetch(url, opts.signal ? { signal: opts.signal } : {});
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new DownloadError(res.status);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > opts.maxBytes) {
    await res.body.cancel().catch(() => {});
    return tooLarge();
  }
  return ok(res.body as unknown as AsyncIterable<Uint8Array>);
}

/** A local file as a stream, refused from its size before it is read; never more than maxBytes + 1 bytes come out. */
export async function openLocalFile(file: string, opts: DownloadLimit): Promise<Result<AsyncIterable<Uint8Array>>> {
  const handle = await open(file, 'r');
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new DownloadError(404);
    if (st.size > opts.maxBytes) return tooLarge();
  } catch (err) {
    await handle.close();
    throw err;
  }
  // One byte past the limit is enough to tell that a file grew beyond it after the size check.
  return ok(handle.createReadStream({ end: opts.maxBytes, ...(opts.signal ? { signal: opts.signal } : {}) }) as AsyncIterable<Uint8Array>);
}

/** Collects a stream up to the limit; past it, stops reading and refuses. */
export async function readCapped(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Result<Buffer>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    // Leaving the loop closes the stream (the HTTP body is cancelled, the file closed).
    if (total > maxBytes) return tooLarge();
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return ok(Buffer.concat(chunks, total));
}

export async function downloadUrl(url: string | URL, opts: DownloadLimit): Promise<Result<Buffer>> {
  const body = await openUrl(url, opts);
  if (!body.ok) return body;
  return readCapped(body.value, opts.maxBytes);
}
