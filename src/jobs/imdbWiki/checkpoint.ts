import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from './crc32.ts';
import type { FaceSource } from '../../core/gallery.ts';
import type { Box } from '../../core/types.ts';

// The build's progress on disk, so that Ctrl-C, kill -9 or a power cut costs at most the batches in
// flight. records.bin is append-only: one record per processed row, either a face (box, descriptor,
// thumbnail) or a skip (why). Each record is framed as
//
//   u32 payload length | u32 CRC-32 of the payload | payload
//
// and each batch is appended with one write and made durable with fsync before the next. A crash
// can therefore only tear the last record; opening the file checks every record and cuts the file
// back to the end of the last whole one. A row is only ever handed out for processing when it has
// no record, and the final index takes each row's first record, so a row is neither lost nor counted
// twice. checkpoint.json identifies the build (data, options, model): a checkpoint is only resumed by
// the same build.

const MAGIC = Buffer.from('LKCKPT01');
const RECORDS = 'records.bin';
const IDENTITY = 'checkpoint.json';
const HEADER = 8;
const FACE = 1;
const SKIP = 2;
// Appended only: a record stores the position, and checkpoints written before keep their meaning.
const SOURCES: readonly FaceSource[] = ['cascade', 'whole_image', 'metadata', 'blazeface'];

export interface FaceRecord {
  kind: 'face';
  row: number;
  box: Box;
  source: FaceSource;
  descriptor: Float32Array;
  thumbnail: Uint8Array;
}

export interface SkipRecord {
  kind: 'skip';
  row: number;
  /** A FailureCode such as 'corrupt_image'. */
  code: string;
}

export type CheckpointRecord = FaceRecord | SkipRecord;

/** What a record says without its descriptor and thumbnail, and where it lies in the file. */
export interface RecordIndex {
  row: number;
  kind: 'face' | 'skip';
  source?: FaceSource;
  code?: string;
  offset: number;
  length: number;
}

export function encodeRecord(r: CheckpointRecord): Buffer {
  let payload: Buffer;
  if (r.kind === 'face') {
    const dims = r.descriptor.length;
    payload = Buffer.alloc(1 + 4 + 1 + 16 + 2 + 4 * dims + 4 + r.thumbnail.length);
    let o = payload.writeUInt8(FACE, 0);
    o = payload.writeUInt32LE(r.row, o);
    o = payload.writeUInt8(SOURCES.indexOf(r.source), o);
    for (const v of [r.box.x, r.box.y, r.box.width, r.box.height]) o = payload.writeInt32LE(v, o);
    o = payload.writeUInt16LE(dims, o);
    Buffer.from(r.descriptor.buffer, r.descriptor.byteOffset, 4 * dims).copy(payload, o);
    o += 4 * dims;
    o = payload.writeUInt32LE(r.thumbnail.length, o);
    payload.set(r.thumbnail, o);
  } else {
    const code = Buffer.from(r.code, 'utf8');
    payload = Buffer.alloc(1 + 4 + 1 + code.length);
    let o = payload.writeUInt8(SKIP, 0);
    o = payload.writeUInt32LE(r.row, o);
    o = payload.writeUInt8(code.length, o);
    code.copy(payload, o);
  }
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

export function decodeRecord(payload: Buffer): CheckpointRecord {
  const kind = payload.readUInt8(0);
  const row = payload.readUInt32LE(1);
  if (kind === SKIP) {
    const len = payload.readUInt8(5);
    return { kind: 'skip', row, code: payload.toString('utf8', 6, 6 + len) };
  }
  if (kind !== FACE) throw new Error(`unknown checkpoint record kind ${kind}`);
  const source = SOURCES[payload.readUInt8(5)] ?? 'cascade';
  const box = { x: payload.readInt32LE(6), y: payload.readInt32LE(10), width: payload.readInt32LE(14), height: payload.readInt32LE(18) };
  const dims = payload.readUInt16LE(22);
  const descriptor = new Float32Array(dims);
  Buffer.from(descriptor.buffer).set(payload.subarray(24, 24 + 4 * dims));
  let o = 24 + 4 * dims;
  const thumbLength = payload.readUInt32LE(o);
  o += 4;
  const thumbnail = new Uint8Array(payload.subarray(o, o + thumbLength));
  return { kind: 'face', row, box, source, descriptor, thumbnail };
}

function indexOf(payload: Buffer, offset: number): RecordIndex {
  const kind = payload.readUInt8(0) === FACE ? 'face' : 'skip';
  const row = payload.readUInt32LE(1);
  if (kind === 'face') return { row, kind, source: SOURCES[payload.readUInt8(5)] ?? 'cascade', offset, length: payload.length };
  return { row, kind, code: payload.toString('utf8', 6, 6 + payload.readUInt8(5)), offset, length: payload.length };
}

export interface OpenResult {
  checkpoint: Checkpoint;
  /** Records found (0 for a new checkpoint). */
  resumed: number;
  /** Bytes cut from the end: a record torn by a crash. */
  tornBytes: number;
}

export class CheckpointMismatchError extends Error {}

export class Checkpoint {
  private fd: number;
  private end: number;

  private constructor(
    readonly dir: string,
    fd: number,
    end: number,
    /** Every whole record in the file, in file order. */
    readonly index: RecordIndex[],
  ) {
    this.fd = fd;
    this.end = end;
  }

  /**
   * Opens the checkpoint in `dir` for the build `identity`, or starts a new one. With resume off, or
   * no checkpoint there, any old one is discarded. A checkpoint of another build is refused with
   * CheckpointMismatchError unless resume is off.
   */
  static open(dir: string, identity: object, opts: { resume: boolean }): OpenResult {
    const identityFile = path.join(dir, IDENTITY);
    const recordsFile = path.join(dir, RECORDS);
    const wanted = JSON.stringify(identity);
    if (existsSync(identityFile) && existsSync(recordsFile) && opts.resume) {
      const found = JSON.stringify((JSON.parse(readFileSync(identityFile, 'utf8')) as { identity: unknown }).identity);
      if (found !== wanted) {
        throw new CheckpointMismatchError(
          `${dir} holds the checkpoint of a different build (other data, options or model). ` +
            'Run the same command as before to finish it, or add --no-resume to discard it and start over.',
        );
      }
      const fd = openSync(recordsFile, 'r+');
      const { index, end } = scan(fd);
      const size = fstatSync(fd).size;
      if (end < size) {
        ftruncateSync(fd, end);
        fsyncSync(fd);
      }
      return { checkpoint: new Checkpoint(dir, fd, end, index), resumed: index.length, tornBytes: size - end };
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const fd = openSync(recordsFile, 'w+');
    writeSync(fd, MAGIC);
    fsyncSync(fd);
    writeFileSync(identityFile, JSON.stringify({ version: 1, createdAt: new Date().toISOString(), identity }, null, 1));
    syncDir(dir);
    return { checkpoint: new Checkpoint(dir, fd, MAGIC.length, []), resumed: 0, tornBytes: 0 };
  }

  /** Appends the records with one write and waits for them to reach the disk. */
  append(records: readonly CheckpointRecord[]): void {
    if (records.length === 0) return;
    const encoded = records.map(encodeRecord);
    const chunk = Buffer.concat(encoded);
    let written = 0;
    while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written, this.end + written);
    fsyncSync(this.fd);
    let offset = this.end;
    for (const [i, buf] of encoded.entries()) {
      this.index.push({ ...indexOf(buf.subarray(HEADER), offset), row: records[i]!.row });
      offset += buf.length;
    }
    this.end += chunk.length;
  }

  /** Reads one record back (from its index entry). */
  read(entry: RecordIndex): CheckpointRecord {
    const buf = Buffer.alloc(entry.length);
    readSync(this.fd, buf, 0, entry.length, entry.offset + HEADER);
    return decodeRecord(buf);
  }

  get bytes(): number {
    return this.end;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Closes and deletes the checkpoint (once the index it fed is safely written). */
  remove(): void {
    this.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every whole, intact record from the start; `end` is where the last one ends. */
function scan(fd: number): { index: RecordIndex[]; end: number } {
  const size = fstatSync(fd).size;
  const magic = Buffer.alloc(MAGIC.length);
  if (readSync(fd, magic, 0, MAGIC.length, 0) !== MAGIC.length || !magic.equals(MAGIC)) {
    throw new CheckpointMismatchError('the checkpoint file is not one this program wrote; add --no-resume to discard it');
  }
  const index: RecordIndex[] = [];
  const head = Buffer.alloc(HEADER);
  let offset = MAGIC.length;
  let payload = Buffer.alloc(64 * 1024);
  while (offset + HEADER <= size) {
    readSync(fd, head, 0, HEADER, offset);
    const length = head.readUInt32LE(0);
    if (length < 6 || offset + HEADER + length > size) break;
    if (payload.length < length) payload = Buffer.alloc(length * 2);
    readSync(fd, payload, 0, length, offset + HEADER);
    const body = payload.subarray(0, length);
    if (crc32(body) !== head.readUInt32LE(4)) break;
    index.push(indexOf(body, offset));
    offset += HEADER + length;
  }
  return { index, end: offset };
}

/** Makes a new file's directory entry durable too. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the records' own fsync still holds.
  }
}
