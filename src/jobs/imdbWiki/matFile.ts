import { readFile } from 'node:fs/promises';
import { createInflate, inflateSync } from 'node:zlib';
import { LookalikeError } from '../../core/errors.ts';

// A reader for MATLAB level-5 MAT-files (format reference: MathWorks "MAT-File Format", R2019b+).
// It covers what IMDB-WIKI's metadata uses and what a generic writer produces: numeric classes
// (real and complex, logical), char arrays, cell arrays and structs, plain or miCOMPRESSED.
// Sparse arrays, objects and opaque (MCOS) values are refused with a MatFormatError.
//
// Cells and structs are lazy: parsing records where each element starts and `get` decodes one
// element on demand. imdb.mat holds ~1.4 million small arrays; materialising them all as objects
// would cost far more memory than the columns the caller actually keeps.

/** The bytes are not a MAT-file we can read, or the file does not have the structure asked for. */
export class MatFormatError extends LookalikeError {}

/** Data types of data elements (the "mi" types). */
export const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;

/** Array classes (the "mx" classes) found in the array-flags subelement. */
export const MX = {
  CELL: 1,
  STRUCT: 2,
  OBJECT: 3,
  CHAR: 4,
  SPARSE: 5,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
  INT64: 14,
  UINT64: 15,
  FUNCTION: 16,
  OPAQUE: 17,
} as const;

export type NumericClass =
  | 'double'
  | 'single'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64';

export type NumericData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface MatBase {
  /** Variable name at top level; '' for cell and struct elements. */
  name: string;
  /** MATLAB dimensions, at least two (1x1 for a scalar). Elements are stored column-major. */
  dims: number[];
}

export interface MatNumeric extends MatBase {
  kind: 'numeric';
  numericClass: NumericClass;
  /** MATLAB `logical` arrays are uint8 with this flag set. */
  logical: boolean;
  /** Column-major values, converted to the array's class whatever type the file stored them as. */
  real: NumericData;
  imag?: NumericData;
}

export interface MatChar extends MatBase {
  kind: 'char';
  /** One string per row (a 1xN char array is one row; 0x0 has none). */
  rows: string[];
  /** The rows joined with '\n'; for the usual 1xN char array simply the string. */
  text: string;
}

export interface MatCell extends MatBase {
  kind: 'cell';
  length: number;
  /** Decodes element i (column-major, 0-based) each time it is called. */
  get(index: number): MatValue;
}

export interface MatStruct extends MatBase {
  kind: 'struct';
  length: number;
  fieldNames: readonly string[];
  has(field: string): boolean;
  /** Decodes field `field` of struct element `index` (default 0) each time it is called. */
  get(field: string, index?: number): MatValue;
}

export type MatValue = MatNumeric | MatChar | MatCell | MatStruct;

export interface MatFile {
  /** The 116-byte descriptive text, trailing blanks removed. */
  headerText: string;
  littleEndian: boolean;
  /** Top-level variables by name, in file order. */
  variables: Map<string, MatValue>;
}

export interface ParseOptions {
  /** Named in error messages (a file path, usually). */
  source?: string;
}

const HEADER_BYTES = 128;
const SMALL_ARRAY = 16;
const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const miNames: Record<number, string> = Object.fromEntries(Object.entries(MI).map(([k, v]) => [v, `mi${k}`]));
const mxNames: Record<number, string> = Object.fromEntries(Object.entries(MX).map(([k, v]) => [v, `mx${k}`]));

interface NumericClassInfo {
  name: NumericClass;
  /** The mi type whose bytes can be copied straight into this class's typed array. */
  nativeMi: number;
  make: (n: number) => NumericData;
}

const numericClasses: Record<number, NumericClassInfo> = {
  [MX.DOUBLE]: { name: 'double', nativeMi: MI.DOUBLE, make: (n) => new Float64Array(n) },
  [MX.SINGLE]: { name: 'single', nativeMi: MI.SINGLE, make: (n) => new Float32Array(n) },
  [MX.INT8]: { name: 'int8', nativeMi: MI.INT8, make: (n) => new Int8Array(n) },
  [MX.UINT8]: { name: 'uint8', nativeMi: MI.UINT8, make: (n) => new Uint8Array(n) },
  [MX.INT16]: { name: 'int16', nativeMi: MI.INT16, make: (n) => new Int16Array(n) },
  [MX.UINT16]: { name: 'uint16', nativeMi: MI.UINT16, make: (n) => new Uint16Array(n) },
  [MX.INT32]: { name: 'int32', nativeMi: MI.INT32, make: (n) => new Int32Array(n) },
  [MX.UINT32]: { name: 'uint32', nativeMi: MI.UINT32, make: (n) => new Uint32Array(n) },
  [MX.INT64]: { name: 'int64', nativeMi: MI.INT64, make: (n) => new BigInt64Array(n) },
  [MX.UINT64]: { name: 'uint64', nativeMi: MI.UINT64, make: (n) => new BigUint64Array(n) },
};

// Typed-array views of raw element bytes, by mi type (after any byte swap).
const miElementSize: Record<number, number> = {
  [MI.INT8]: 1,
  [MI.UINT8]: 1,
  [MI.INT16]: 2,
  [MI.UINT16]: 2,
  [MI.INT32]: 4,
  [MI.UINT32]: 4,
  [MI.SINGLE]: 4,
  [MI.DOUBLE]: 8,
  [MI.INT64]: 8,
  [MI.UINT64]: 8,
};

function viewAs(mi: number, bytes: Uint8Array): NumericData {
  const { buffer, byteOffset: o, byteLength: n } = bytes;
  switch (mi) {
    case MI.INT8: return new Int8Array(buffer, o, n);
    case MI.UINT8: return new Uint8Array(buffer, o, n);
    case MI.INT16: return new Int16Array(buffer, o, n / 2);
    case MI.UINT16: return new Uint16Array(buffer, o, n / 2);
    case MI.INT32: return new Int32Array(buffer, o, n / 4);
    case MI.UINT32: return new Uint32Array(buffer, o, n / 4);
    case MI.SINGLE: return new Float32Array(buffer, o, n / 4);
    case MI.DOUBLE: return new Float64Array(buffer, o, n / 8);
    case MI.INT64: return new BigInt64Array(buffer, o, n / 8);
    case MI.UINT64: return new BigUint64Array(buffer, o, n / 8);
    default: throw new Error(`unreachable mi type ${mi}`);
  }
}

function describeDims(dims: readonly number[]): string {
  return dims.join('x');
}

/** A short human description of a value, for error messages ("double 3x3", "struct 1x1"). */
export function describeMatValue(value: MatValue): string {
  const what = value.kind === 'numeric' ? (value.logical ? 'logical' : value.numericClass) : value.kind;
  return `${what} ${describeDims(value.dims)}`;
}

/** A data element tag: its type, byte count, where its data starts and where the next one starts. */
interface Tag {
  type: number;
  bytes: number;
  data: number;
  next: number;
}

class Reader {
  // readTag fills and returns this one object rather than allocating: imdb.mat has millions of
  // tags and this is the hot loop. A Tag is valid until the next readTag.
  private readonly tag: Tag = { type: 0, bytes: 0, data: 0, next: 0 };

  private readonly dv: DataView;

  constructor(
    readonly buf: Buffer,
    readonly le: boolean,
    readonly source: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(where: string, message: string): never {
    throw new MatFormatError(`${this.source}: ${where}: ${message}`);
  }

  u32(off: number): number {
    return this.dv.getUint32(off, this.le);
  }

  i32(off: number): number {
    return this.dv.getInt32(off, this.le);
  }

  /** One stored value of type `mi` at `off`, as a number (64-bit integers lose precision past 2^53). */
  scalarAt(mi: number, off: number): number {
    const dv = this.dv;
    switch (mi) {
      case MI.DOUBLE: return dv.getFloat64(off, this.le);
      case MI.SINGLE: return dv.getFloat32(off, this.le);
      case MI.INT8: return dv.getInt8(off);
      case MI.UINT8: return dv.getUint8(off);
      case MI.INT16: return dv.getInt16(off, this.le);
      case MI.UINT16: return dv.getUint16(off, this.le);
      case MI.INT32: return dv.getInt32(off, this.le);
      case MI.UINT32: return dv.getUint32(off, this.le);
      case MI.INT64: return Number(dv.getBigInt64(off, this.le));
      case MI.UINT64: return Number(dv.getBigUint64(off, this.le));
      default: throw new Error(`unreachable mi type ${mi}`);
    }
  }

  readTag(off: number, end: number, where: string): Tag {
    const tag = this.tag;
    if (off + 8 > end) this.fail(where, `truncated: data element tag at byte ${off} runs past ${end}`);
    const first = this.u32(off);
    const small = first >>> 16;
    if (small !== 0) {
      // Small data element: type and size share the first four bytes, data in the next four.
      if (small > 4) this.fail(where, `small data element at byte ${off} claims ${small} bytes (max 4)`);
      tag.type = first & 0xffff;
      tag.bytes = small;
      tag.data = off + 4;
      tag.next = off + 8;
      return tag;
    }
    const nbytes = this.u32(off + 4);
    const data = off + 8;
    if (data + nbytes > end) {
      this.fail(where, `truncated: ${miNames[first] ?? `type ${first}`} element at byte ${off} claims ${nbytes} bytes, only ${end - data} left`);
    }
    tag.type = first;
    tag.bytes = nbytes;
    tag.data = data;
    // Subelements are padded to 8 bytes; tolerate a writer that left off the last padding.
    tag.next = Math.min(data + ((nbytes + 7) & ~7), end);
    return tag;
  }

  /** Parses the miMATRIX whose tag starts at `off`. */
  matrixAt(off: number, end: number, where: string): MatValue {
    const t = this.readTag(off, end, where);
    if (t.type !== MI.MATRIX) {
      this.fail(where, `expected an miMATRIX element at byte ${off}, found ${miNames[t.type] ?? `type ${t.type}`}`);
    }
    return this.matrix(t.data, t.data + t.bytes, where);
  }

  /** Parses miMATRIX content occupying [start, end). */
  matrix(start: number, end: number, where: string): MatValue {
    if (start === end) {
      // An empty miMATRIX (no subelements) stands for [] in cells and structs.
      return { kind: 'numeric', name: '', dims: [0, 0], numericClass: 'double', logical: false, real: new Float64Array(0) };
    }
    let t = this.readTag(start, end, where);
    if (t.type !== MI.UINT32 || t.bytes !== 8) this.fail(where, `array flags subelement missing at byte ${start}`);
    const flagsWord = this.u32(t.data);
    const mxClass = flagsWord & 0xff;
    const flags = (flagsWord >>> 8) & 0xff;
    const complex = (flags & 0x08) !== 0;
    const logical = (flags & 0x02) !== 0;

    t = this.readTag(t.next, end, where);
    if (t.type !== MI.INT32 || t.bytes < 8 || t.bytes % 4 !== 0) this.fail(where, 'dimensions subelement missing or malformed');
    const dims: number[] = [];
    for (let p = t.data; p < t.data + t.bytes; p += 4) {
      const d = this.i32(p);
      if (d < 0) this.fail(where, `negative dimension ${d}`);
      dims.push(d);
    }
    let numel = 1;
    for (const d of dims) numel *= d;

    t = this.readTag(t.next, end, where);
    if (t.type !== MI.INT8 && t.type !== MI.UINT8) this.fail(where, 'array name subelement missing');
    const name = t.bytes === 0 ? '' : this.buf.toString('latin1', t.data, t.data + t.bytes);
    const here = where === '' ? name : where;
    const body = t.next;

    switch (mxClass) {
      case MX.CHAR:
        return this.char(body, end, here, name, dims, numel);
      case MX.CELL:
        return this.cell(body, end, here, name, dims, numel);
      case MX.STRUCT:
        return this.struct(body, end, here, name, dims, numel);
      case MX.SPARSE:
        return this.fail(here, 'sparse arrays are not supported');
      case MX.OBJECT:
      case MX.FUNCTION:
      case MX.OPAQUE:
        return this.fail(here, `${mxNames[mxClass]} values (MATLAB objects, function handles, strings, tables) are not supported`);
      default: {
        const info = numericClasses[mxClass];
        if (!info) return this.fail(here, `unknown array class ${mxClass}`);
        const real = this.numeric(body, end, here, info, numel, 'real part');
        const value: MatNumeric = { kind: 'numeric', name, dims, numericClass: info.name, logical, real };
        if (complex) value.imag = this.numeric(this.tag.next, end, here, info, numel, 'imaginary part');
        return value;
      }
    }
  }

  numeric(off: number, end: number, where: string, info: NumericClassInfo, numel: number, part: string): NumericData {
    const t = this.readTag(off, end, where);
    const mi = t.type;
    const size = miElementSize[mi];
    if (size === undefined) return this.fail(where, `${part} stored as ${miNames[mi] ?? `type ${mi}`}, not a numeric type`);
    if (t.bytes !== numel * size) {
      this.fail(where, `${part} has ${t.bytes} bytes of ${miNames[mi]}, expected ${numel} elements (${numel * size} bytes)`);
    }
    const out = info.make(numel);
    if (numel === 0) return out;
    if (numel <= SMALL_ARRAY && !(out instanceof BigInt64Array || out instanceof BigUint64Array)) {
      // Most arrays in these files are tiny (a 1x4 face box per row): read them in place
      // rather than copying through temporary views.
      for (let i = 0, p = t.data; i < numel; i++, p += size) out[i] = this.scalarAt(mi, p);
      return out;
    }
    const src = this.buf.subarray(t.data, t.data + t.bytes);
    if (mi === info.nativeMi) {
      const dst = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      dst.set(src);
      if (this.le !== hostLittleEndian) swapInPlace(Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength), size);
      return out;
    }
    // MATLAB stores e.g. integer-valued doubles as miUINT8 to save space: widen to the class.
    // A fresh ArrayBuffer (not Node's shared pool) so that the typed view below is aligned.
    const copy = new Uint8Array(src.length);
    copy.set(src);
    if (this.le !== hostLittleEndian) swapInPlace(Buffer.from(copy.buffer, 0, copy.length), size);
    const stored = viewAs(mi, copy);
    const outIsBig = out instanceof BigInt64Array || out instanceof BigUint64Array;
    const storedIsBig = stored instanceof BigInt64Array || stored instanceof BigUint64Array;
    if (outIsBig === storedIsBig) {
      (out as Float64Array).set(stored as Float64Array);
    } else if (outIsBig) {
      for (let i = 0; i < numel; i++) (out as BigInt64Array)[i] = BigInt(Math.trunc((stored as Float64Array)[i]!));
    } else {
      for (let i = 0; i < numel; i++) (out as Float64Array)[i] = Number((stored as BigInt64Array)[i]!);
    }
    return out;
  }

  char(off: number, end: number, where: string, name: string, dims: number[], numel: number): MatChar {
    let all = '';
    if (off < end) {
      const t = this.readTag(off, end, where);
      const s = t.data;
      const e = s + t.bytes;
      switch (t.type) {
        case MI.UINT16:
        case MI.UTF16:
        case MI.INT16:
          if (this.le) all = this.buf.toString('utf16le', s, e);
          else all = Buffer.from(this.buf.subarray(s, e)).swap16().toString('utf16le');
          break;
        case MI.UTF8:
          all = this.buf.toString('utf8', s, e);
          break;
        case MI.UINT8:
        case MI.INT8:
          all = this.buf.toString('latin1', s, e);
          break;
        case MI.UTF32: {
          const points: number[] = [];
          for (let p = s; p < e; p += 4) points.push(this.u32(p));
          all = String.fromCodePoint(...points);
          break;
        }
        default:
          this.fail(where, `char data stored as ${miNames[t.type] ?? `type ${t.type}`}`);
      }
    }
    const nrows = dims[0] ?? 0;
    if (numel === 0 || nrows === 0) return { kind: 'char', name, dims, rows: [], text: '' };
    if (nrows === 1) return { kind: 'char', name, dims, rows: [all], text: all };
    if (all.length !== numel) this.fail(where, `char array ${describeDims(dims)} holds ${all.length} characters`);
    const ncols = numel / nrows;
    const rows: string[] = [];
    for (let r = 0; r < nrows; r++) {
      let row = '';
      for (let c = 0; c < ncols; c++) row += all[r + c * nrows];
      rows.push(row);
    }
    return { kind: 'char', name, dims, rows, text: rows.join('\n') };
  }

  /** Walks `count` consecutive miMATRIX elements from `off`, returning each one's tag offset. */
  elementOffsets(off: number, end: number, where: string, count: number, what: (i: number) => string): Float64Array {
    const offsets = new Float64Array(count);
    let p = off;
    for (let i = 0; i < count; i++) {
      const t = this.readTag(p, end, where);
      if (t.type !== MI.MATRIX) {
        this.fail(where, `${what(i)}: expected miMATRIX, found ${miNames[t.type] ?? `type ${t.type}`}`);
      }
      offsets[i] = p;
      p = t.next;
    }
    return offsets;
  }

  cell(off: number, end: number, where: string, name: string, dims: number[], numel: number): MatCell {
    const offsets = this.elementOffsets(off, end, where, numel, (i) => `cell element ${i + 1} of ${numel}`);
    const reader = this;
    return {
      kind: 'cell',
      name,
      dims,
      length: numel,
      get(index: number): MatValue {
        if (!Number.isInteger(index) || index < 0 || index >= numel) {
          throw new RangeError(`${where}: cell index ${index} outside 0..${numel - 1}`);
        }
        return reader.matrixAt(offsets[index]!, end, `${where}{${index + 1}}`);
      },
    };
  }

  struct(off: number, end: number, where: string, name: string, dims: number[], numel: number): MatStruct {
    let t = this.readTag(off, end, where);
    if (t.type !== MI.INT32 || t.bytes !== 4) this.fail(where, 'struct field name length subelement missing');
    const nameLength = this.i32(t.data);
    t = this.readTag(t.next, end, where);
    if (t.type !== MI.INT8 && t.type !== MI.UINT8) this.fail(where, 'struct field names subelement missing');
    if (nameLength <= 0 ? t.bytes !== 0 : t.bytes % nameLength !== 0) {
      this.fail(where, `struct field names take ${t.bytes} bytes, not a multiple of ${nameLength}`);
    }
    const fieldNames: string[] = [];
    for (let p = t.data; p < t.data + t.bytes; p += nameLength) {
      const raw = this.buf.toString('latin1', p, p + nameLength);
      const nul = raw.indexOf('\0');
      fieldNames.push(nul < 0 ? raw : raw.slice(0, nul));
    }
    const nfields = fieldNames.length;
    const offsets = this.elementOffsets(t.next, end, where, numel * nfields, (i) => {
      return `struct element ${Math.floor(i / nfields) + 1}, field '${fieldNames[i % nfields]}'`;
    });
    const fieldIndex = new Map(fieldNames.map((f, i) => [f, i]));
    const reader = this;
    return {
      kind: 'struct',
      name,
      dims,
      length: numel,
      fieldNames,
      has: (field) => fieldIndex.has(field),
      get(field: string, index = 0): MatValue {
        const f = fieldIndex.get(field);
        if (f === undefined) throw new MatFormatError(`${reader.source}: ${where}: struct has no field '${field}' (fields: ${fieldNames.join(', ')})`);
        if (!Number.isInteger(index) || index < 0 || index >= numel) {
          throw new RangeError(`${where}: struct index ${index} outside 0..${numel - 1}`);
        }
        const label = numel === 1 ? `${where}.${field}` : `${where}(${index + 1}).${field}`;
        return reader.matrixAt(offsets[index * nfields + f]!, end, label);
      },
    };
  }
}

function swapInPlace(buf: Buffer, size: number): void {
  if (size === 2) buf.swap16();
  else if (size === 4) buf.swap32();
  else if (size === 8) buf.swap64();
}

interface TopLevelElement {
  compressed: boolean;
  start: number;
  nbytes: number;
  index: number;
}

function readHeader(bytes: Buffer, source: string): { headerText: string; littleEndian: boolean } {
  if (bytes.length < HEADER_BYTES) {
    throw new MatFormatError(`${source}: not a MAT-file: ${bytes.length} bytes, shorter than the 128-byte header`);
  }
  const indicator = bytes.toString('latin1', 126, 128);
  const headerText = bytes.toString('latin1', 0, 116).replace(/[\s\0]+$/, '');
  if (indicator !== 'IM' && indicator !== 'MI') {
    const looksLikeText = /^MATLAB/.test(headerText);
    throw new MatFormatError(
      `${source}: not a MATLAB level-5 MAT-file: ${looksLikeText ? 'header text present but ' : ''}no 'IM'/'MI' endian indicator at byte 126` +
        (looksLikeText ? '' : ' (level-4 MAT-files and other formats are not supported)'),
    );
  }
  const littleEndian = indicator === 'IM';
  const version = littleEndian ? bytes.readUInt16LE(124) : bytes.readUInt16BE(124);
  if (version === 0x0200) {
    throw new MatFormatError(`${source}: MAT-file version 7.3 (HDF5) is not supported; save with -v7 or read it as HDF5`);
  }
  if (version !== 0x0100) {
    throw new MatFormatError(`${source}: unsupported MAT-file version 0x${version.toString(16)} (expected 0x0100)`);
  }
  return { headerText, littleEndian };
}

function* topLevelElements(reader: Reader): Generator<TopLevelElement> {
  const end = reader.buf.length;
  let off = HEADER_BYTES;
  let index = 0;
  while (off < end) {
    // Some writers pad the file's tail with zeros; an all-zero tail is not an element.
    if (end - off < 8 && reader.buf.subarray(off).every((b) => b === 0)) return;
    const { type, data, bytes, next } = reader.readTag(off, end, `variable #${index + 1}`);
    if (type === MI.COMPRESSED) {
      yield { compressed: true, start: data, nbytes: bytes, index };
      off = data + bytes; // compressed elements are not padded
    } else if (type === MI.MATRIX) {
      yield { compressed: false, start: data, nbytes: bytes, index };
      off = next;
    } else {
      reader.fail(`variable #${index + 1}`, `top-level element at byte ${off} is ${miNames[type] ?? `type ${type}`}, expected miMATRIX or miCOMPRESSED`);
    }
    index++;
  }
}

function parseElement(reader: Reader, el: TopLevelElement, inflated: Buffer | undefined): MatValue {
  if (!inflated) return reader.matrix(el.start, el.start + el.nbytes, '');
  const inner = new Reader(inflated, reader.le, reader.source);
  return inner.matrixAt(0, inflated.length, '');
}

function inflateError(reader: Reader, el: TopLevelElement, err: unknown): MatFormatError {
  const message = err instanceof Error ? err.message : String(err);
  return new MatFormatError(`${reader.source}: variable #${el.index + 1}: cannot inflate miCOMPRESSED data: ${message}`, { cause: err });
}

// zlib cannot expand data more than about 1032:1; a larger claim means a corrupt tag.
const MAX_INFLATE_RATIO = 1032;

/**
 * Inflates one miCOMPRESSED payload into a single buffer of the size its inner tag announces, so
 * that the peak is the result plus one chunk, not chunks plus their concatenation (imdb.mat
 * inflates to ~180 MB). Rejects with zlib's error; a short result is left for the parser to report.
 */
function inflateExact(compressed: Buffer, le: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = createInflate({ chunkSize: 1 << 20 });
    let head: Buffer[] = [];
    let headLength = 0;
    let out: Buffer | undefined;
    let filled = 0;
    const append = (chunk: Buffer): void => {
      if (filled + chunk.length > out!.length) {
        // More than the tag announced: keep everything and let the parser judge.
        const bigger = Buffer.allocUnsafe(Math.max(out!.length * 2, filled + chunk.length));
        out!.copy(bigger, 0, 0, filled);
        out = bigger;
      }
      chunk.copy(out!, filled);
      filled += chunk.length;
    };
    z.on('data', (chunk: Buffer) => {
      if (out) return append(chunk);
      head.push(chunk);
      headLength += chunk.length;
      if (headLength < 8) return;
      const first = Buffer.concat(head);
      head = [];
      const announced = 8 + (le ? first.readUInt32LE(4) : first.readUInt32BE(4));
      if (announced > compressed.length * MAX_INFLATE_RATIO + 1024) {
        z.destroy();
        reject(new Error(`inner element claims ${announced} bytes, impossible from ${compressed.length} compressed bytes`));
        return;
      }
      out = Buffer.allocUnsafe(Math.max(announced, first.length));
      append(first);
    });
    z.on('error', reject);
    z.on('end', () => resolve(out ? out.subarray(0, filled) : Buffer.concat(head)));
    z.end(compressed);
  });
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses a MAT-file held in memory. Compressed variables are inflated synchronously. */
export function parseMatFile(bytes: Uint8Array, options: ParseOptions = {}): MatFile {
  const buf = toBuffer(bytes);
  const source = options.source ?? '<MAT-file>';
  const { headerText, littleEndian } = readHeader(buf, source);
  const reader = new Reader(buf, littleEndian, source);
  const variables = new Map<string, MatValue>();
  for (const el of topLevelElements(reader)) {
    let inflated: Buffer | undefined;
    if (el.compressed) {
      try {
        inflated = inflateSync(buf.subarray(el.start, el.start + el.nbytes));
      } catch (err) {
        throw inflateError(reader, el, err);
      }
    }
    const value = parseElement(reader, el, inflated);
    variables.set(value.name, value);
  }
  return { headerText, littleEndian, variables };
}

/** Reads and parses a MAT-file; compressed variables are inflated off the main thread. */
export async function readMatFile(path: string): Promise<MatFile> {
  const buf = await readFile(path);
  const { headerText, littleEndian } = readHeader(buf, path);
  const reader = new Reader(buf, littleEndian, path);
  const variables = new Map<string, MatValue>();
  for (const el of topLevelElements(reader)) {
    let inflated: Buffer | undefined;
    if (el.compressed) {
      try {
        inflated = await inflateExact(buf.subarray(el.start, el.start + el.nbytes), littleEndian);
      } catch (err) {
        throw inflateError(reader, el, err);
      }
    }
    const value = parseElement(reader, el, inflated);
    variables.set(value.name, value);
  }
  return { headerText, littleEndian, variables };
}
