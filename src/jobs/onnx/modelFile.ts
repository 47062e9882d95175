import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { encodeModelChunks, type ModelProto } from './proto.ts';

/**
 * Writes a model to `file` chunk by chunk (see encodeModelChunks), hashing as it goes. The file is
 * written beside its final name and renamed into place, so a reader never sees half a model.
 */
export async function writeModelFile(file: string, model: ModelProto): Promise<{ sha256: string; bytes: number }> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  const handle = await open(tmp, 'w');
  try {
    for (const chunk of encodeModelChunks(model)) {
      hash.update(chunk);
      bytes += chunk.length;
      // Large initializers go down in slices: one write call is capped at 2 GiB, and smaller
      // writes keep the kernel's copy of the data short-lived.
      for (let at = 0; at < chunk.length; at += 64 << 20) {
        const slice = chunk.subarray(at, at + (64 << 20));
        let done = 0;
        while (done < slice.length) done += (await handle.write(slice, done, slice.length - done)).bytesWritten;
      }
    }
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, file);
  return { sha256: hash.digest('hex'), bytes };
}
