// Expected failures travel as values, not exceptions: a bot or the CLI turns each code into a
// short, friendly answer. Anything thrown is unexpected (see errors.ts).

export type FailureCode =
  | 'missing_file'
  | 'empty_file'
  | 'file_too_large'
  | 'too_many_pixels'
  | 'not_an_image'
  | 'corrupt_image'
  | 'no_face'
  | 'no_index'
  | 'empty_index'
  | 'model_mismatch'
  | 'unknown_model'
  | 'unknown_celebrity'
  | 'not_a_video'
  | 'no_video_stream'
  | 'video_too_long'
  | 'corrupt_video'
  /** A face number beyond the faces found in the photo. */
  | 'no_such_face'
  /** A gallery's metadata file (people.csv) that breaks its rules. */
  | 'bad_metadata'
  /** Compare with women or men only, and the gallery has no one marked so. */
  | 'gender_unavailable';

export interface Failure {
  code: FailureCode;
  message: string;
  /** no_such_face: how many faces the photo has. */
  faces?: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: Failure };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: FailureCode, message: string): Result<T> {
  return { ok: false, error: { code, message } };
}
