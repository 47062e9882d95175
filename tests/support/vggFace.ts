import h5wasm from 'h5wasm/node';
import type { RgbImage } from '../../src/core/types.ts';
import { vggLayerPlan, type LayerWeights, type VggLayer, type VggWidths } from '../../src/jobs/vggFaceGraph.ts';

// Test fixtures for VGG-Face without the real 580 MB weights: random weights with VGG-Face's layer
// structure, written as Keras HDF5 files the way Keras 1 and Keras 2 write them, and an independent
// reference forward pass in plain loops (float64, NHWC, Keras's BGR-minus-mean preprocessing).

export const MEAN_BGR = [93.594, 104.7624, 129.1863];

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One layer's weights as Keras stores them: kernel [h, w, in, out] (input channels BGR for conv1_1) and bias. */
export interface KerasLayerWeights {
  kernel: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array;
}

/**
 * He-uniform random weights (variance 2 / fan-in keeps activations at one scale through the ReLUs),
 * conv1_1 scaled down by 1/100 so that activations are O(1) although pixels are O(100) after the mean.
 */
export function randomKerasWeights(widths: VggWidths, seed: number, opts: { tiled?: boolean } = {}): KerasLayerWeights[] {
  const next = rng(seed);
  return vggLayerPlan(widths).map((layer, index) => {
    const [kh, kw, cin, cout] = layer.kernel;
    const limit = Math.sqrt(6 / (kh * kw * cin)) * (index === 0 ? 0.01 : 1);
    const kernel = new Float32Array(kh * kw * cin * cout);
    fillUniform(kernel, limit, next, opts.tiled ?? false);
    const bias = new Float32Array(cout);
    for (let i = 0; i < cout; i++) bias[i] = (2 * next() - 1) * 0.1;
    return { kernel, shape: [kh, kw, cin, cout], bias };
  });
}

/**
 * Random weights straight in ONNX order [out, in, h, w], for graphs too large to write as HDF5 in a
 * test (full-size VGG-Face is 145 M weights). A block of random values is tiled over each kernel:
 * values only need the right scale here (shapes, speed), and this is 30 times faster than drawing all.
 */
export function randomOnnxWeights(seed: number): (layer: VggLayer) => LayerWeights {
  const next = rng(seed);
  return (layer) => {
    const [kh, kw, cin, cout] = layer.kernel;
    const limit = Math.sqrt(6 / (kh * kw * cin)) * (layer.label === 'conv1_1' ? 0.01 : 1);
    const data = new Float32Array(kh * kw * cin * cout);
    fillUniform(data, limit, next, true);
    const bias = new Float32Array(cout);
    for (let i = 0; i < cout; i++) bias[i] = (2 * next() - 1) * 0.1;
    return { kernel: { dims: [cout, cin, kh, kw], data }, bias };
  };
}

/** Uniform values in [-limit, limit); `tiled` draws one block of 65,537 and repeats it (fast, for shapes and speed only). */
function fillUniform(data: Float32Array, limit: number, next: () => number, tiled: boolean): void {
  const drawn = tiled ? Math.min(65_537, data.length) : data.length;
  for (let i = 0; i < drawn; i++) data[i] = (2 * next() - 1) * limit;
  for (let filled = drawn; filled < data.length; filled *= 2) data.copyWithin(filled, 0, Math.min(filled, data.length - filled));
}

export type KerasNaming = 'keras2' | 'keras1';

export interface WriteKerasOptions {
  /** keras2: conv2d_1 with weights conv2d_1/kernel:0 in a nested group; keras1: convolution2d_1 with convolution2d_1_W:0. */
  naming: KerasNaming;
  /** Leave weight layer i (0-based) out: from the file entirely, or ('keep-name') listed in layer_names without its group. */
  dropLayer?: { index: number; keepName?: boolean };
  /** Store weight layer i's kernel with this shape instead (random values). */
  reshapeKernel?: { index: number; shape: number[] };
  /** Write the layers under /model_weights as model.save() does. */
  fullModel?: boolean;
}

function fixedStrings(names: readonly string[]): [string[], number[], string] {
  // Keras writes name lists as numpy fixed-length byte strings.
  const width = Math.max(1, ...names.map((n) => n.length));
  return [[...names], [names.length], `A${width}`];
}

/** Writes a Keras HDF5 weights file with VGG-Face's layer sequence (deepface's model) and the given weights. */
export async function writeKerasVggFile(file: string, weights: readonly KerasLayerWeights[], opts: WriteKerasOptions): Promise<void> {
  await h5wasm.ready;
  const k1 = opts.naming === 'keras1';
  const counters = new Map<string, number>();
  const name = (kind: string) => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return `${kind}_${n}`;
  };
  const conv = k1 ? 'convolution2d' : 'conv2d';
  const pad = k1 ? 'zeropadding2d' : 'zero_padding2d';
  const pool = k1 ? 'maxpooling2d' : 'max_pooling2d';

  // deepface's Sequential model: ZeroPadding2D before each 3x3 conv, MaxPooling2D after each block,
  // Dropout after fc6 and fc7, then Flatten and the softmax Activation.
  const plan = vggLayerPlan({ blocks: [1, 1, 1, 1, 1], fc6: 1, fc7: 1, fc8: 1 });
  const sequence: { name: string; weightIndex?: number }[] = [];
  plan.forEach((layer, i) => {
    if (layer.pad > 0) sequence.push({ name: name(pad) });
    sequence.push({ name: name(conv), weightIndex: i });
    if (layer.poolAfter) sequence.push({ name: name(pool) });
    if (layer.label === 'fc6' || layer.label === 'fc7') sequence.push({ name: name('dropout') });
  });
  sequence.push({ name: name('flatten') }, { name: name('activation') });

  const f = new h5wasm.File(file, 'w');
  try {
    f.create_attribute('backend', 'tensorflow');
    f.create_attribute('keras_version', k1 ? '1.2.2' : '2.2.4');
    const root = opts.fullModel ? f.create_group('model_weights') : f;
    const listed = sequence.filter((l) => !(opts.dropLayer && !opts.dropLayer.keepName && l.weightIndex === opts.dropLayer.index));
    root.create_attribute('layer_names', ...fixedStrings(listed.map((l) => l.name)));
    for (const layer of listed) {
      if (opts.dropLayer && layer.weightIndex === opts.dropLayer.index) continue;
      const group = root.create_group(layer.name);
      if (layer.weightIndex === undefined) {
        // An empty name list is saved as numpy's default empty array: float64, shape (0,).
        group.create_attribute('weight_names', new Float64Array(0), [0], '<f8');
        continue;
      }
      const w = weights[layer.weightIndex]!;
      let kernel = w.kernel;
      let shape: number[] = w.shape;
      if (opts.reshapeKernel?.index === layer.weightIndex) {
        shape = opts.reshapeKernel.shape;
        kernel = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01);
      }
      const names = k1 ? [`${layer.name}_W:0`, `${layer.name}_b:0`] : [`${layer.name}/kernel:0`, `${layer.name}/bias:0`];
      group.create_attribute('weight_names', ...fixedStrings(names));
      const holder = k1 ? group : group.create_group(layer.name);
      const leaf = (n: string) => n.slice(n.lastIndexOf('/') + 1);
      holder.create_dataset({ name: leaf(names[0]!), data: kernel, shape, dtype: '<f4' });
      holder.create_dataset({ name: leaf(names[1]!), data: w.bias, shape: [w.bias.length], dtype: '<f4' });
    }
  } finally {
    f.close();
  }
}

/**
 * VGG-Face's forward pass as Keras computes it, in plain float64 loops over NHWC maps: RGB crop ->
 * BGR minus the mean pixel -> 13 padded 3x3 convs + ReLU with 2x2 max pooling after each block ->
 * fc6 (7x7 valid) + ReLU -> fc7 + ReLU -> fc8. Returns fc7 (after ReLU) and fc8, unnormalised.
 */
export function referenceForward(weights: readonly KerasLayerWeights[], crop: RgbImage): { fc7: Float64Array; fc8: Float64Array } {
  const plan = vggLayerPlan({ blocks: [1, 1, 1, 1, 1], fc6: 1, fc7: 1, fc8: 1 });
  let h = crop.height;
  let w = crop.width;
  let c = 3;
  let x = new Float64Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    // BGR order, as the Keras model was trained.
    x[p * 3] = crop.data[p * 3 + 2]! - MEAN_BGR[0]!;
    x[p * 3 + 1] = crop.data[p * 3 + 1]! - MEAN_BGR[1]!;
    x[p * 3 + 2] = crop.data[p * 3]! - MEAN_BGR[2]!;
  }
  let fc7 = new Float64Array(0);
  plan.forEach((layer, index) => {
    const { kernel, shape, bias } = weights[index]!;
    const [kh, kw, cin, cout] = shape;
    if (cin !== c) throw new Error(`reference: ${layer.label} takes ${cin} channels, map has ${c}`);
    const pad = layer.pad;
    const oh = h + 2 * pad - kh + 1;
    const ow = w + 2 * pad - kw + 1;
    const out = new Float64Array(oh * ow * cout);
    const acc = new Float64Array(cout);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < cout; o++) acc[o] = bias[o]!;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy + ky - pad;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox + kx - pad;
            if (ix < 0 || ix >= w) continue;
            const inBase = (iy * w + ix) * cin;
            const wBase = (ky * kw + kx) * cin * cout;
            for (let i = 0; i < cin; i++) {
              const v = x[inBase + i]!;
              if (v === 0) continue;
              const row = wBase + i * cout;
              for (let o = 0; o < cout; o++) acc[o]! += v * kernel[row + o]!;
            }
          }
        }
        const outBase = (oy * ow + ox) * cout;
        for (let o = 0; o < cout; o++) out[outBase + o] = layer.relu ? Math.max(0, acc[o]!) : acc[o]!;
      }
    }
    x = out;
    h = oh;
    w = ow;
    c = cout;
    if (layer.poolAfter) {
      const ph = Math.floor(h / 2);
      const pw = Math.floor(w / 2);
      const pooled = new Float64Array(ph * pw * c);
      for (let py = 0; py < ph; py++) {
        for (let px = 0; px < pw; px++) {
          for (let ch = 0; ch < c; ch++) {
            let m = -Infinity;
            for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) m = Math.max(m, x[((2 * py + dy) * w + 2 * px + dx) * c + ch]!);
            pooled[(py * pw + px) * c + ch] = m;
          }
        }
      }
      x = pooled;
      h = ph;
      w = pw;
    }
    if (layer.label === 'fc7') fc7 = x;
  });
  if (h !== 1 || w !== 1) throw new Error(`reference: the head left a ${h}x${w} map`);
  return { fc7, fc8: x };
}

/** Random RGB crops of the given size. */
export function randomCrops(count: number, size: number, seed: number): RgbImage[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => {
    const data = Buffer.alloc(size * size * 3);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 256);
    return { data, width: size, height: size };
  });
}
