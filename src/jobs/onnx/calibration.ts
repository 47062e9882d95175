import { toNchwBatch } from '../../core/models/faceRecognitionNet.ts';
import { runFloat32, type OrtSession } from '../../core/runtime/ort.ts';
import type { RgbImage } from '../../core/types.ts';
import type { TensorData } from './graphBuilder.ts';

// What int8 quantisation measures and computes, for any model: weights quantised per output channel,
// activation ranges observed by running a float probe graph (every activation to quantise an output)
// on real face chips, and a range's uint8 scale and zero point. vggFaceInt8.ts builds VGG-Face's
// integer graph from them; staticInt8.ts rewrites any float convolutional graph with them.

/** Activation ranges by tensor name (a probe output's name, without a 'probe/' prefix). */
export type ActivationRanges = Record<string, { min: number; max: number }>;

/** Per-output-channel symmetric quantisation of an [out, ...] kernel: q = round(w / s), s = max|w| / 127. */
export function quantizePerChannel(kernel: TensorData): { q: Int8Array; scale: Float32Array } {
  const cout = kernel.dims[0]!;
  const src = kernel.data as Float32Array;
  const per = src.length / cout;
  const q = new Int8Array(src.length);
  const scale = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    let max = 0;
    for (let k = o * per; k < (o + 1) * per; k++) max = Math.max(max, Math.abs(src[k]!));
    const s = max > 0 ? max / 127 : 1;
    scale[o] = s;
    for (let k = o * per; k < (o + 1) * per; k++) q[k] = Math.max(-127, Math.min(127, Math.round(src[k]! / s)));
  }
  return { q, scale };
}

/** uint8 quantisation of a range: scale and zero point with 0 exactly representable. */
export function activationQuant(range: { min: number; max: number }): { scale: number; zero: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max, min + 1e-6);
  const scale = (max - min) / 255;
  const zero = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zero };
}

/**
 * Calibration: the range of each probed tensor over every crop. The maximum of a tensor without
 * negative values (after a ReLU) is a percentile of its values (from a histogram; VGG-Face takes the
 * 99.99th, so that a few outliers do not waste the 256 levels the rest need); other ranges, and every
 * minimum, stay exact.
 */
export class RangeObserver {
  private readonly stats = new Map<string, { min: number; max: number; histogram: Float64Array; top: number }>();
  private static readonly BINS = 4096;

  /** First pass over a batch: exact minimums and maximums. */
  observeExtremes(name: string, data: Float32Array): void {
    let s = this.stats.get(name);
    if (!s) {
      s = { min: Infinity, max: -Infinity, histogram: new Float64Array(RangeObserver.BINS), top: 0 };
      this.stats.set(name, s);
    }
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
    }
  }

  /** Second pass: histograms of |value| up to the maximum seen. */
  observeHistogram(name: string, data: Float32Array): void {
    const s = this.stats.get(name);
    if (!s) throw new Error(`${name} was not seen in the first pass`);
    if (s.top === 0) s.top = Math.max(Math.abs(s.min), Math.abs(s.max), 1e-6);
    const k = RangeObserver.BINS / s.top;
    for (let i = 0; i < data.length; i++) {
      const v = Math.abs(data[i]!);
      s.histogram[Math.min(RangeObserver.BINS - 1, Math.floor(v * k))]! += 1;
    }
  }

  ranges(percentile = 99.99): ActivationRanges {
    const out: ActivationRanges = {};
    for (const [name, s] of this.stats) {
      let max = s.max;
      const total = s.histogram.reduce((a, b) => a + b, 0);
      if (total > 0 && s.min >= 0) {
        const wanted = (percentile / 100) * total;
        let seen = 0;
        for (let b = 0; b < s.histogram.length; b++) {
          seen += s.histogram[b]!;
          if (seen >= wanted) {
            max = Math.min(s.max, ((b + 1) * s.top) / RangeObserver.BINS);
            break;
          }
        }
      }
      out[name.replace(/^probe\//, '')] = { min: s.min, max };
    }
    return out;
  }
}

/**
 * Runs a probe graph (input 'input', NCHW RGB 0..255) over face chips of side `size`, `batch` at a
 * time, twice: extremes first, then the histograms that percentiles below 100 need.
 */
export async function observeChips(probe: OrtSession, chips: readonly RgbImage[], size: number, batch: number): Promise<RangeObserver> {
  const observer = new RangeObserver();
  for (const pass of ['extremes', 'histogram'] as const) {
    for (let i = 0; i < chips.length; i += batch) {
      const part = chips.slice(i, i + batch);
      const out = await runFloat32(probe, { name: 'input', data: toNchwBatch(part, size), dims: [part.length, 3, size, size] });
      for (const [name, tensor] of Object.entries(out)) {
        if (pass === 'extremes') observer.observeExtremes(name, tensor.data);
        else observer.observeHistogram(name, tensor.data);
      }
    }
  }
  return observer;
}
