import { writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import type { NumericClass } from '../../src/jobs/imdbWiki/matFile.ts';

// A MATLAB level-5 MAT-file writer for tests: enough to build small IMDB-WIKI style metadata
// files (and malformed ones) that list images from the shared photo folder, and to exercise the
// reader's corners (compression, big-endian files, compact numeric storage, UTF-8 chars).

export type MatWriteValue = WriteNumeric | WriteChar | WriteCell | WriteStruct;

export interface WriteNumeric {
  kind: 'numeric';
  numericClass: NumericClass;
  dims: number[];
  real: ArrayLike<number> | ArrayLike<bigint>;
  imag?: ArrayLike<number> | ArrayLike<bigint>;
  logical?: boolean;
}

export interface WriteChar {
  kind: 'char';
  dims: number[];
  rows: string[];
}

export interface WriteCell {
  kind: 'cell';
  dims: number[];
  items: MatWriteValue[];
}

export interface WriteStruct {
  kind: 'struct';
  dims: number[];
  fieldNames: string[];
  /** One record per struct element (column-major), each with every field. */
  elements: Record<string, MatWriteValue>[];
}

/** Constructors for values; vectors are 1xN like the IMDB-WIKI columns. */
export const mat = {
  double(values: number | ArrayLike<number>, dims?: number[]): WriteNumeric {
    const real = typeof values === 'number' ? [values] : values;
    return { kind: 'numeric', numericClass: 'double', dims: dims ?? [1, real.length], real };
  },
  numeric(
    numericClass: NumericClass,
    real: ArrayLike<number> | ArrayLike<bigint>,
    options: { dims?: number[]; imag?: ArrayLike<number> | ArrayLike<bigint>; logical?: boolean } = {},
  ): WriteNumeric {
    return { kind: 'numeric', numericClass, dims: options.dims ?? [1, real.length], real, imag: options.imag, logical: options.logical };
  },
  logical(values: ArrayLike<boolean>, dims?: number[]): WriteNumeric {
    const real = Array.from(values, (b) => (b ? 1 : 0));
    return { kind: 'numeric', numericClass: 'uint8', dims: dims ?? [1, real.length], real, logical: true };
  },
  /** A string is a 1xN char array ('' is 0x0, as MATLAB saves it); several rows must be equally long. */
  char(text: string | string[]): WriteChar {
    const rows = typeof text === 'string' ? (text === '' ? [] : [text]) : text;
    const width = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== width)) throw new Error('char rows must have equal length');
    return { kind: 'char', dims: rows.length === 0 ? [0, 0] : [rows.length, width], rows };
  },
  cell(items: MatWriteValue[], dims?: number[]): WriteCell {
    return { kind: 'cell', dims: dims ?? [1, items.length], items };
  },
  struct(elements: Record<string, MatWriteValue> | Record<string, MatWriteValue>[], dims?: number[]): WriteStruct {
    const list = Array.isArray(elements) ? elements : [elements];
    const fieldNames = Object.keys(list[0] ?? {});
    return { kind: 'struct', dims: dims ?? [1, list.length], fieldNames, elements: list };
  },
  /** [] : MATLAB's empty double. */
  empty(): WriteNumeric {
    return { kind: 'numeric', numericClass: 'double', dims: [0, 0], real: [] };
  },
};

export interface MatWriteOptions {
  /** Wrap each variable in miCOMPRESSED (zlib), as MATLAB's default -v7 does. */
  compress?: boolean;
  endian?: 'le' | 'be';
  /** Char data as miUINT16 code units (MATLAB) or miUTF8. */
  charEncoding?: 'utf16' | 'utf8';
  /** Store integer-valued doubles in the smallest integer type that holds them, as MATLAB does. */
  compactNumbers?: boolean;
}

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16 };
const MX = { CELL: 1, STRUCT: 2, CHAR: 4 };
const classInfo: Record<NumericClass, { mx: number; mi: number }> = {
  double: { mx: 6, mi: MI.DOUBLE },
  single: { mx: 7, mi: MI.SINGLE },
  int8: { mx: 8, mi: MI.INT8 },
  uint8: { mx: 9, mi: MI.UINT8 },
  int16: { mx: 10, mi: MI.INT16 },
  uint16: { mx: 11, mi: MI.UINT16 },
  int32: { mx: 12, mi: MI.INT32 },
  uint32: { mx: 13, mi: MI.UINT32 },
  int64: { mx: 14, mi: MI.INT64 },
  uint64: { mx: 15, mi: MI.UINT64 },
};

class Encoder {
  constructor(private readonly o: Required<MatWriteOptions>) {}

  private get le(): boolean {
    return this.o.endian === 'le';
  }

  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }

  /** A data element: tag, data, padding to 8 bytes; the small format for 1..4 bytes. */
  element(type: number, data: Buffer): Buffer {
    if (data.length > 0 && data.length <= 4) {
      return Buffer.concat([this.u32((data.length << 16) | type), data, Buffer.alloc(4 - data.length)]);
    }
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([this.u32(type), this.u32(data.length), data, Buffer.alloc(pad)]);
  }

  typed(mi: number, values: ArrayLike<number> | ArrayLike<bigint>): Buffer {
    const n = values.length;
    const arr = (() => {
      switch (mi) {
        case MI.INT8: return new Int8Array(n);
        case MI.UINT8: return new Uint8Array(n);
        case MI.INT16: return new Int16Array(n);
        case MI.UINT16: return new Uint16Array(n);
        case MI.INT32: return new Int32Array(n);
        case MI.UINT32: return new Uint32Array(n);
        case MI.SINGLE: return new Float32Array(n);
        case MI.DOUBLE: return new Float64Array(n);
        case MI.INT64: return new BigInt64Array(n);
        case MI.UINT64: return new BigUint64Array(n);
        default: throw new Error(`mi type ${mi}`);
      }
    })();
    const big = arr instanceof BigInt64Array || arr instanceof BigUint64Array;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      (arr as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
    }
    const b = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    if (!this.le) {
      if (arr.BYTES_PER_ELEMENT === 2) b.swap16();
      else if (arr.BYTES_PER_ELEMENT === 4) b.swap32();
      else if (arr.BYTES_PER_ELEMENT === 8) b.swap64();
    }
    return b;
  }

  /** MATLAB's space saving: integer-valued doubles go to disk as the narrowest integer type. */
  storageType(numericClass: NumericClass, part: ArrayLike<number> | ArrayLike<bigint>): number {
    const native = classInfo[numericClass].mi;
    if (!this.o.compactNumbers || numericClass !== 'double' || part.length === 0) return native;
    const vals = Array.from(part as ArrayLike<number>);
    if (!vals.every((v) => Number.isInteger(v))) return native;
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    if (lo >= 0 && hi <= 255) return MI.UINT8;
    if (lo >= -128 && hi <= 127) return MI.INT8;
    if (lo >= 0 && hi <= 65535) return MI.UINT16;
    if (lo >= -32768 && hi <= 32767) return MI.INT16;
    if (lo >= -(2 ** 31) && hi < 2 ** 31) return MI.INT32;
    return native;
  }

  matrix(name: string, value: MatWriteValue): Buffer {
    let mxClass: number;
    let flags = 0;
    const body: Buffer[] = [];
    switch (value.kind) {
      case 'numeric': {
        mxClass = classInfo[value.numericClass].mx;
        if (value.imag) flags |= 0x08;
        if (value.logical) flags |= 0x02;
        // Real and imaginary parts each get their own storage type, as in MATLAB's files.
        for (const part of value.imag ? [value.real, value.imag] : [value.real]) {
          const mi = this.storageType(value.numericClass, part);
          body.push(this.element(mi, this.typed(mi, part)));
        }
        break;
      }
      case 'char': {
        mxClass = MX.CHAR;
        const nrows = value.rows.length;
        const ncols = value.rows[0]?.length ?? 0;
        let colMajor = '';
        for (let c = 0; c < ncols; c++) for (let r = 0; r < nrows; r++) colMajor += value.rows[r]![c];
        if (this.o.charEncoding === 'utf8') {
          body.push(this.element(MI.UTF8, Buffer.from(colMajor, 'utf8')));
        } else {
          const units = Array.from({ length: colMajor.length }, (_, i) => colMajor.charCodeAt(i));
          body.push(this.element(MI.UINT16, this.typed(MI.UINT16, units)));
        }
        break;
      }
      case 'cell':
        mxClass = MX.CELL;
        for (const item of value.items) body.push(this.matrix('', item));
        break;
      case 'struct': {
        mxClass = MX.STRUCT;
        const width = Math.max(32, ...value.fieldNames.map((f) => f.length + 1));
        body.push(this.element(MI.INT32, this.typed(MI.INT32, [width])));
        const names = Buffer.alloc(width * value.fieldNames.length);
        value.fieldNames.forEach((f, i) => names.write(f, i * width, 'latin1'));
        body.push(this.element(MI.INT8, names));
        for (const el of value.elements) for (const f of value.fieldNames) body.push(this.matrix('', el[f] ?? mat.empty()));
        break;
      }
    }
    const flagsWord = (flags << 8) | mxClass;
    const content = Buffer.concat([
      this.element(MI.UINT32, Buffer.concat([this.u32(flagsWord), this.u32(0)])),
      this.element(MI.INT32, this.typed(MI.INT32, value.dims)),
      // An empty name is written as a full 8-byte tag with no data, as MATLAB does.
      name === '' ? Buffer.concat([this.u32(MI.INT8), this.u32(0)]) : this.element(MI.INT8, Buffer.from(name, 'latin1')),
      ...body,
    ]);
    return Buffer.concat([this.u32(MI.MATRIX), this.u32(content.length), content]);
  }

  header(): Buffer {
    const h = Buffer.alloc(128, ' ');
    h.write(`MATLAB 5.0 MAT-file, Platform: nodejs, Created on: ${new Date(0).toUTCString()} by tests/support/matWriter.ts`, 0, 116, 'latin1');
    h.fill(0, 116, 124); // no subsystem data
    if (this.le) {
      h.writeUInt16LE(0x0100, 124);
      h.write('IM', 126, 'latin1');
    } else {
      h.writeUInt16BE(0x0100, 124);
      h.write('MI', 126, 'latin1');
    }
    return h;
  }
}

/** Encodes top-level variables, in the order given, into MAT-file bytes. */
export function encodeMatFile(variables: Record<string, MatWriteValue>, options: MatWriteOptions = {}): Buffer {
  const o: Required<MatWriteOptions> = { compress: false, endian: 'le', charEncoding: 'utf16', compactNumbers: false, ...options };
  const enc = new Encoder(o);
  const parts = [enc.header()];
  for (const [name, value] of Object.entries(variables)) {
    const element = enc.matrix(name, value);
    if (o.compress) {
      const z = deflateSync(element);
      parts.push(enc.u32(MI.COMPRESSED), enc.u32(z.length), z);
    } else {
      parts.push(element);
    }
  }
  return Buffer.concat(parts);
}

export interface ImdbWikiRow {
  fullPath: string;
  name: string;
  /** MATLAB datenum. */
  dob: number;
  photoTaken: number;
  /** 1 male, 0 female, NaN unknown. */
  gender: number;
  faceLocation: readonly [number, number, number, number];
  faceScore: number;
  secondFaceScore: number;
  /** imdb only; default: position of `name` among the distinct names, 1-based. */
  celebId?: number;
}

export interface ImdbWikiMatOptions extends MatWriteOptions {
  variant: 'wiki' | 'imdb';
  /** imdb only; default: the distinct row names in first-seen order. */
  celebNames?: string[];
  /** Leave these fields out (to test the reader's errors). */
  omitFields?: string[];
  /** Replace or add fields (to test the reader's errors). */
  overrideFields?: Record<string, MatWriteValue>;
}

/** Same layout as IMDB-WIKI's wiki.mat / imdb.mat: one 1x1 struct of 1xN columns. */
export function encodeImdbWikiMat(rows: readonly ImdbWikiRow[], options: ImdbWikiMatOptions): Buffer {
  const fields: Record<string, MatWriteValue> = {
    dob: mat.double(rows.map((r) => r.dob)),
    photo_taken: mat.double(rows.map((r) => r.photoTaken)),
    full_path: mat.cell(rows.map((r) => mat.char(r.fullPath))),
    gender: mat.double(rows.map((r) => r.gender)),
    name: mat.cell(rows.map((r) => mat.char(r.name))),
    face_location: mat.cell(rows.map((r) => mat.double(r.faceLocation))),
    face_score: mat.double(rows.map((r) => r.faceScore)),
    second_face_score: mat.double(rows.map((r) => r.secondFaceScore)),
  };
  if (options.variant === 'imdb') {
    const celebNames = options.celebNames ?? [...new Set(rows.map((r) => r.name))];
    fields.celeb_names = mat.cell(celebNames.map((n) => mat.char(n)));
    fields.celeb_id = mat.double(rows.map((r) => r.celebId ?? celebNames.indexOf(r.name) + 1));
  }
  for (const f of options.omitFields ?? []) delete fields[f];
  Object.assign(fields, options.overrideFields ?? {});
  return encodeMatFile({ [options.variant]: mat.struct(fields) }, options);
}

export async function writeImdbWikiMat(path: string, rows: readonly ImdbWikiRow[], options: ImdbWikiMatOptions): Promise<void> {
  await writeFile(path, encodeImdbWikiMat(rows, options));
}

export async function writeMatFile(path: string, variables: Record<string, MatWriteValue>, options: MatWriteOptions = {}): Promise<void> {
  await writeFile(path, encodeMatFile(variables, options));
}
