import { fail, ok, type Result } from '../../core/result.ts';

// Fetching a user's file over HTTP with a size limit that holds even when the server does not say, or
// lies about, the length: the download stops as soon as it passes the limit.

export class DownloadError extends Error {
  constructor(readonly status: number) {
    super(`file download failed: HTTP ${status}`);
    this.name = 'DownloadError';
  }
}

export async function downloadUrl(url: string | URL, opts: { maxBytes: number | null; signal?: AbortSignal }): Promise<Result<Buffer>> {
  const res = await fetch(url, opts.signal ? { signal: opts.signal } : {});
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new DownloadError(res.status);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (opts.maxBytes !== null && declared > opts.maxBytes) {
    await res.body.cancel();
    return fail('file_too_large', 'The file is larger than the download limit.');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (opts.maxBytes !== null && total > opts.maxBytes) {
      return fail('file_too_large', 'The file is larger than the download limit.');
    }
    chunks.push(Buffer.from(chunk));
  }
  return ok(Buffer.concat(chunks));
}
