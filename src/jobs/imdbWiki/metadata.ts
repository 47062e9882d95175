import {
  MatFormatError,
  describeMatValue,
  readMatFile,
  type MatCell,
  type MatFile,
  type MatNumeric,
  type MatValue,
} from './matFile.ts';

// IMDB-WIKI ships its metadata as one MATLAB struct (`wiki` or `imdb`) of parallel per-image
// columns. This turns it into plain columns: strings for text, typed arrays for numbers, so that
// imdb.mat's 460k rows stay a few tens of megabytes.

export type ImdbWikiVariant = 'wiki' | 'imdb';

export interface ImdbWikiMetadata {
  variant: ImdbWikiVariant;
  rows: number;
  /** Image path relative to the crop root, e.g. '17/10000217_1981-05-05_2009.jpg'. */
  fullPath: string[];
  /** Person's name; '' where the file has none. */
  name: string[];
  /** Date of birth as a MATLAB datenum (days from year 0; 719529 is 1970-01-01). */
  dob: Float64Array;
  /** Year the photo was taken. */
  photoTaken: Float64Array;
  /** 1 male, 0 female, NaN unknown. */
  gender: Float64Array;
  /** Four numbers per row, x1, y1, x2, y2 as stored (pixels in the original, uncropped image). */
  faceLocation: Float64Array;
  /** Detector score; -Inf where no face was found. */
  faceScore: Float64Array;
  /** Score of the second-best face; NaN where there is only one. */
  secondFaceScore: Float64Array;
  /** imdb only: 1-based index into celebNames, per row. */
  celebId?: Int32Array;
  /** imdb only: one name per celebrity (not per row). */
  celebNames?: string[];
}

const numericFields = ['dob', 'photo_taken', 'gender', 'face_score', 'second_face_score'] as const;
const cellFields = ['full_path', 'name', 'face_location'] as const;
const commonFields = [...numericFields, ...cellFields];
const imdbFields = ['celeb_id', 'celeb_names'] as const;

/** Reads wiki.mat or imdb.mat. Throws MatFormatError naming what is wrong if the file is not one. */
export async function readImdbWikiMetadata(path: string): Promise<ImdbWikiMetadata> {
  return imdbWikiMetadataFromMat(await readMatFile(path), path);
}

/** The same, from an already-parsed MAT-file (`source` is named in errors). */
export function imdbWikiMetadataFromMat(mat: MatFile, source = '<MAT-file>'): ImdbWikiMetadata {
  const fail = (message: string): never => {
    throw new MatFormatError(`${source}: ${message}`);
  };

  const variant: ImdbWikiVariant | undefined = mat.variables.has('imdb') ? 'imdb' : mat.variables.has('wiki') ? 'wiki' : undefined;
  if (!variant) {
    const found = [...mat.variables].map(([n, v]) => `${n} (${describeMatValue(v)})`).join(', ') || 'none';
    return fail(`no variable named 'wiki' or 'imdb' (variables: ${found})`);
  }
  const top = mat.variables.get(variant)!;
  if (top.kind !== 'struct') return fail(`'${variant}' is ${describeMatValue(top)}, expected a 1x1 struct`);
  if (top.length !== 1) return fail(`'${variant}' is a struct array ${top.dims.join('x')}, expected 1x1`);

  const required = variant === 'imdb' ? [...commonFields, ...imdbFields] : commonFields;
  const missing = required.filter((f) => !top.has(f));
  if (missing.length > 0) {
    return fail(`'${variant}' struct lacks field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (has: ${top.fieldNames.join(', ')})`);
  }

  const field = (f: string): MatValue => top.get(f);
  const perRow = new Map<string, MatValue>();
  for (const f of [...commonFields, ...(variant === 'imdb' ? ['celeb_id'] : [])]) perRow.set(f, field(f));
  const lengths = [...perRow].map(([f, v]) => [f, numel(v)] as const);
  const rows = numel(perRow.get('full_path')!);
  if (lengths.some(([, n]) => n !== rows)) {
    return fail(`'${variant}' fields have different lengths: ${lengths.map(([f, n]) => `${f} ${n}`).join(', ')}`);
  }

  const numeric = (f: string): Float64Array => {
    const v = perRow.get(f)!;
    if (v.kind !== 'numeric' || v.numericClass === 'int64' || v.numericClass === 'uint64') {
      return fail(`'${variant}.${f}' is ${describeMatValue(v)}, expected a numeric vector`);
    }
    return v.real instanceof Float64Array ? v.real : Float64Array.from(v.real as ArrayLike<number>);
  };
  const cell = (f: string): MatCell => {
    const v = perRow.get(f)!;
    if (v.kind !== 'cell') return fail(`'${variant}.${f}' is ${describeMatValue(v)}, expected a cell array`);
    return v;
  };

  const meta: ImdbWikiMetadata = {
    variant,
    rows,
    fullPath: cellStrings(cell('full_path'), `${variant}.full_path`, fail),
    name: cellStrings(cell('name'), `${variant}.name`, fail),
    dob: numeric('dob'),
    photoTaken: numeric('photo_taken'),
    gender: numeric('gender'),
    faceLocation: faceLocations(cell('face_location'), `${variant}.face_location`, fail),
    faceScore: numeric('face_score'),
    secondFaceScore: numeric('second_face_score'),
  };
  if (variant === 'imdb') {
    const namesValue = field('celeb_names');
    if (namesValue.kind !== 'cell') return fail(`'imdb.celeb_names' is ${describeMatValue(namesValue)}, expected a cell array`);
    meta.celebNames = cellStrings(namesValue, 'imdb.celeb_names', fail);
    meta.celebId = celebIds(numeric('celeb_id'), meta.celebNames.length, fail);
  }
  return meta;
}

/** The name for a row: its own `name`, else (imdb) its celebrity's entry in celeb_names, else ''. */
export function nameOf(meta: ImdbWikiMetadata, row: number): string {
  const own = meta.name[row]?.trim() ?? '';
  if (own !== '' || !meta.celebId || !meta.celebNames) return own;
  return meta.celebNames[meta.celebId[row]! - 1]?.trim() ?? '';
}

function numel(v: MatValue): number {
  return v.kind === 'numeric' ? v.real.length : v.kind === 'char' ? v.dims.reduce((a, b) => a * b, 1) : v.length;
}

function cellStrings(cell: MatCell, label: string, fail: (m: string) => never): string[] {
  const out = new Array<string>(cell.length);
  for (let i = 0; i < cell.length; i++) {
    const v = cell.get(i);
    if (v.kind === 'char') out[i] = v.text;
    else if (v.kind === 'numeric' && v.real.length === 0) out[i] = ''; // [] stands for "no text"
    else fail(`${label}{${i + 1}} is ${describeMatValue(v)}, expected text`);
  }
  return out;
}

function faceLocations(cell: MatCell, label: string, fail: (m: string) => never): Float64Array {
  const out = new Float64Array(cell.length * 4);
  for (let i = 0; i < cell.length; i++) {
    const v = cell.get(i);
    if (v.kind !== 'numeric' || v.real.length !== 4 || v.imag) fail(`${label}{${i + 1}} is ${describeMatValue(v)}, expected 4 numbers`);
    const real = (v as MatNumeric).real;
    for (let k = 0; k < 4; k++) out[i * 4 + k] = Number(real[k]);
  }
  return out;
}

function celebIds(ids: Float64Array, celebCount: number, fail: (m: string) => never): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 1 || id > celebCount) {
      fail(`imdb.celeb_id(${i + 1}) is ${id}, expected an integer in 1..${celebCount} (celeb_names has ${celebCount} entries)`);
    }
    out[i] = id;
  }
  return out;
}
