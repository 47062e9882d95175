import type { Device } from '../../config.ts';
import type { DetectorName } from '../../core/detect/detector.ts';
import type { Precision } from '../../core/models/embedder.ts';
import type { Failure } from '../../core/result.ts';
import type { Box } from '../../core/types.ts';
import type { FaceTaskResult, ModelInfo } from './messages.ts';
import type { FaceTask, PrepareOptions, StageTimings } from './prepareFace.ts';

// Index-build jobs on the queue: the coordinator (`lookalike index build --redis`) hands out rows or files
// in jobs; `lookalike worker`s run them in their face pool and return descriptors and thumbnails. Paths
// are the coordinator's: every worker must see the dataset at the same path.

/** What a worker's face pool loads: the same for every job of a build. */
export interface PoolSpec {
  model: string;
  detector: DetectorName;
  descriptor?: string;
  precision?: Precision;
  prepare: PrepareOptions;
  /** Images each face thread prepares at once. */
  concurrency?: number;
}

export type IndexJobData = { buildId: string; pool: PoolSpec } & ({ kind: 'info' } | { kind: 'faces'; tasks: FaceTask[] });

/** A result as JSON carries it: the descriptor's float32 bytes and the thumbnail in base64 (exact). */
export type WireResult =
  | { key: number; ok: true; box: Box; source: string; descriptor: string; thumbnail: string; photoYear?: number }
  | { key: number; ok: false; code: string; message: string };

export type IndexJobResult =
  | { ok: true; info: ModelInfo; results: WireResult[]; timings: StageTimings }
  /** The model could not be loaded for an expected reason (unknown model, bad descriptor). */
  | { ok: false; failure: Failure };

export function toWire(r: FaceTaskResult): WireResult {
  if (!r.ok) return r;
  return {
    key: r.key,
    ok: true,
    box: r.box,
    source: r.source,
    descriptor: Buffer.from(r.descriptor.buffer, r.descriptor.byteOffset, r.descriptor.byteLength).toString('base64'),
    thumbnail: Buffer.from(r.thumbnail.buffer, r.thumbnail.byteOffset, r.thumbnail.byteLength).toString('base64'),
    ...(r.photoYear !== undefined ? { photoYear: r.photoYear } : {}),
  };
}

export function fromWire(w: WireResult): FaceTaskResult {
  if (!w.ok) return { key: w.key, ok: false, code: w.code as Extract<FaceTaskResult, { ok: false }>['code'], message: w.message };
  const bytes = Buffer.from(w.descriptor, 'base64');
  const descriptor = new Float32Array(bytes.byteLength / 4);
  Buffer.from(descriptor.buffer).set(bytes);
  return {
    key: w.key,
    ok: true,
    box: w.box,
    source: w.source as Extract<FaceTaskResult, { ok: true }>['source'],
    descriptor,
    thumbnail: new Uint8Array(Buffer.from(w.thumbnail, 'base64')),
    ...(w.photoYear !== undefined ? { photoYear: w.photoYear } : {}),
  };
}

/** The options a worker's pool is keyed by (a new build with other options gets a new pool). */
export function poolKey(spec: PoolSpec, device: Device): string {
  return JSON.stringify([spec.model, spec.detector, spec.descriptor ?? null, spec.precision ?? 'fp32', spec.prepare, spec.concurrency ?? 2, device]);
}
