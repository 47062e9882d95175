import type { Pads2d, TensorData } from './graphBuilder.ts';

// Weight-layout and padding arithmetic for porting TensorFlow-family models (tfjs, Keras) to ONNX.

/** A TensorFlow conv kernel [kh, kw, in, out] (tfjs and Keras alike) as an ONNX Conv weight [out, in, kh, kw]. */
export function hwioToOihw(data: Float32Array, dims: readonly number[]): TensorData {
  const [kh, kw, cin, cout] = dims as [number, number, number, number];
  if (dims.length !== 4 || kh * kw * cin * cout !== data.length) {
    throw new Error(`expected an [h, w, in, out] kernel, got dims [${dims.join(',')}] with ${data.length} values`);
  }
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = data[src + o] as number;
        }
      }
    }
  }
  return { dims: [cout, cin, kh, kw], data: out };
}

/**
 * Folds a per-output-channel affine map y*scale + shift (a scale layer, or inference-time batch
 * norm) into the conv before it: W' = W*scale, b' = b*scale + shift. Exact up to float rounding.
 */
export function foldChannelAffine(
  weight: TensorData,
  bias: Float32Array | undefined,
  scale: Float32Array,
  shift: Float32Array,
): { weight: TensorData; bias: Float32Array } {
  const cout = weight.dims[0] as number;
  if (scale.length !== cout || shift.length !== cout || (bias && bias.length !== cout)) {
    throw new Error(`channel affine of length ${scale.length}/${shift.length} does not fit ${cout} output channels`);
  }
  const src = weight.data as Float32Array;
  const per = src.length / cout;
  const w = new Float32Array(src.length);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = scale[o] as number;
    for (let k = o * per; k < (o + 1) * per; k++) w[k] = (src[k] as number) * s;
    b[o] = (bias ? (bias[o] as number) : 0) * s + (shift[o] as number);
  }
  return { weight: { dims: weight.dims, data: w }, bias: b };
}

/** TensorFlow 'SAME' padding for one axis: the extra cell, when odd, goes at the end. */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** 2-D ONNX pads [top, left, bottom, right] for TensorFlow padding on a square input. */
export function tfPads2d(padding: 'same' | 'valid', inSize: number, kernel: number, stride: number): Pads2d {
  if (padding === 'valid') return [0, 0, 0, 0];
  const [begin, end] = samePadding(inSize, kernel, stride);
  return [begin, begin, end, end];
}

/** Output length of a conv or pool along one axis (floor mode). */
export function outputSize(inSize: number, kernel: number, stride: number, padBegin = 0, padEnd = 0): number {
  return Math.floor((inSize + padBegin + padEnd - kernel) / stride) + 1;
}
