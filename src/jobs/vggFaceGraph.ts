import { GraphBuilder, floatTensor, type TensorData } from './onnx/graphBuilder.ts';
import type { ModelProto } from './onnx/proto.ts';
import { VGG_FACE_INPUT_SIZE } from '../core/models/vggFace.ts';

// VGG-Face (Parkhi, Vedaldi & Zisserman, "Deep Face Recognition", BMVC 2015) as an ONNX graph: the
// VGG16 layout trained on 2,622 identities, as deepface's Keras model and its vgg_face_weights.h5
// define it.
//
//   5 blocks of 2, 2, 3, 3, 3 convolutions (3x3, zero padding 1, ReLU), each block ending in 2x2 max
//   pooling with stride 2: 224 -> 112 -> 56 -> 28 -> 14 -> 7
//   fc6: 7x7 convolution, no padding, to 4096 + ReLU (a fully connected layer over the 7x7 map)
//   fc7: 1x1 convolution to 4096 + ReLU             (deepface's 4096-D descriptor since 2024)
//   fc8: 1x1 convolution to 2622                     (the identity logits; the original 2622-D descriptor)
// Keras's Dropout layers do nothing at inference and its final softmax is not part of a descriptor.
//
// Graph contract:
//   input  'input' float32 [N, 3, 224, 224], RGB, NCHW, raw values 0..255 (the same packing as the
//                   default model). The weights were trained on BGR minus the mean BGR pixel with no
//                   scaling; the graph subtracts the mean itself and takes BGR by feeding conv1_1's
//                   input channels in reverse order, which is exact (a conv sums over its channels).
//   output 'fc7'   float32 [N, fc7 width], after ReLU, not normalised
//   output 'fc8'   float32 [N, fc8 width], not normalised

export const INPUT_SIZE = VGG_FACE_INPUT_SIZE;
/** Mean pixel of the VGG-Face training faces, in the BGR order the weights expect. */
export const MEAN_BGR = [93.594, 104.7624, 129.1863] as const;
const BLOCK_DEPTHS = [2, 2, 3, 3, 3] as const;
const FC6_KERNEL = 7;

/** Output channels of each stage. VGG-Face's are VGG_FACE_WIDTHS; tests use narrower ones, same layout. */
export interface VggWidths {
  /** Channels of the convolutions in each of the five blocks. */
  blocks: readonly [number, number, number, number, number];
  fc6: number;
  fc7: number;
  fc8: number;
}

export const VGG_FACE_WIDTHS: VggWidths = { blocks: [64, 128, 256, 512, 512], fc6: 4096, fc7: 4096, fc8: 2622 };

/** One weight-bearing layer of the network. */
export interface VggLayer {
  /** The paper's name: conv1_1 ... conv5_3, fc6, fc7, fc8. */
  label: string;
  /** Kernel shape in Keras order: [height, width, in, out]. */
  kernel: readonly [number, number, number, number];
  pad: number;
  relu: boolean;
  /** A 2x2 stride-2 max pooling follows (the last convolution of a block). */
  poolAfter: boolean;
}

/** The 16 weight-bearing layers in model order. */
export function vggLayerPlan(widths: VggWidths): VggLayer[] {
  const layers: VggLayer[] = [];
  let channels = 3;
  BLOCK_DEPTHS.forEach((depth, b) => {
    const out = widths.blocks[b]!;
    for (let i = 0; i < depth; i++) {
      layers.push({ label: `conv${b + 1}_${i + 1}`, kernel: [3, 3, channels, out], pad: 1, relu: true, poolAfter: i === depth - 1 });
      channels = out;
    }
  });
  layers.push({ label: 'fc6', kernel: [FC6_KERNEL, FC6_KERNEL, channels, widths.fc6], pad: 0, relu: true, poolAfter: false });
  layers.push({ label: 'fc7', kernel: [1, 1, widths.fc6, widths.fc7], pad: 0, relu: true, poolAfter: false });
  layers.push({ label: 'fc8', kernel: [1, 1, widths.fc7, widths.fc8], pad: 0, relu: false, poolAfter: false });
  return layers;
}

/** A layer's weights: the kernel in ONNX order [out, in, height, width], on BGR input as trained. */
export interface LayerWeights {
  kernel: TensorData;
  bias: Float32Array;
}

/**
 * How fc6..fc8 are written. 'conv' is the Keras model op for op. 'gemm' writes the same maps as
 * Flatten + Gemm: a 7x7 valid convolution over a 7x7 map is a matrix product with the [out, in*7*7]
 * kernel (ONNX's channel-major Flatten matches the [out, in, 7, 7] kernel order). Measured on the
 * head alone (ORT CPU, 2 cores): Gemm ~9 ms/face at batch 8 against Conv's ~30, since it streams
 * the 400 MB of fc6 weights once per batch rather than once per face; at batch 1 Conv is ~12 ms
 * faster (~33 against ~45). Index builds run in batches, so 'gemm' is the default.
 */
export type VggHead = 'gemm' | 'conv';

export interface BuildVggFaceOptions {
  head?: VggHead;
  docSource?: string;
  metadata?: Record<string, string>;
}

/** Reverses the input channels of an [out, in, h, w] kernel: BGR-trained weights applied to RGB input. */
export function reverseInputChannels(kernel: TensorData): TensorData {
  const [cout, cin, kh, kw] = kernel.dims as [number, number, number, number];
  const src = kernel.data as Float32Array;
  const out = new Float32Array(src.length);
  const plane = kh * kw;
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      out.set(src.subarray((o * cin + i) * plane, (o * cin + i + 1) * plane), (o * cin + (cin - 1 - i)) * plane);
    }
  }
  return { dims: kernel.dims, data: out };
}

function checkWeights(layer: VggLayer, w: LayerWeights): void {
  const [kh, kw, cin, cout] = layer.kernel;
  const dims = w.kernel.dims;
  if (dims.length !== 4 || dims[0] !== cout || dims[1] !== cin || dims[2] !== kh || dims[3] !== kw || w.bias.length !== cout) {
    throw new Error(`${layer.label}: weights [${dims.join(',')}] + bias ${w.bias.length} do not fit [${cout},${cin},${kh},${kw}]`);
  }
}

/**
 * Builds the graph. `weightsOf` is called once per layer in order, so a caller can read each layer
 * from disk as it is needed.
 */
export function buildVggFaceGraph(
  widths: VggWidths,
  weightsOf: (layer: VggLayer, index: number) => LayerWeights,
  opts: BuildVggFaceOptions = {},
): { model: ModelProto; parameters: number; nodes: number } {
  const head = opts.head ?? 'gemm';
  const g = new GraphBuilder({ name: 'vgg_face' });
  const plan = vggLayerPlan(widths);
  let parameters = 0;

  const input = g.input('input', 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  const meanRgb = g.initializer('mean_rgb', floatTensor([1, 3, 1, 1], [...MEAN_BGR].reverse()));
  let x = g.sub(input, meanRgb, { name: 'subtract_mean' });
  let fc7 = '';
  let size = INPUT_SIZE;

  plan.forEach((layer, index) => {
    const weights = weightsOf(layer, index);
    checkWeights(layer, weights);
    parameters += weights.kernel.data.length + weights.bias.length;
    const kernel = index === 0 ? reverseInputChannels(weights.kernel) : weights.kernel;
    const bias: TensorData = { dims: [weights.bias.length], data: weights.bias };
    const isHead = layer.label.startsWith('fc');
    if (layer.label === 'fc6' && size !== FC6_KERNEL) throw new Error(`fc6 meets a ${size}x${size} map; VGG-Face has ${FC6_KERNEL}x${FC6_KERNEL}`);

    if (isHead && head === 'gemm') {
      if (layer.label === 'fc6') x = g.flatten(x, 1, { name: 'fc6/flatten' });
      const [cout] = kernel.dims as [number];
      const matrix = g.initializer(`${layer.label}.weight`, { dims: [cout, kernel.data.length / cout], data: kernel.data });
      const b = g.initializer(`${layer.label}.bias`, bias);
      x = g.gemm(x, matrix, b, { name: layer.label, transB: true, output: layer.label === 'fc8' ? 'fc8' : undefined });
    } else {
      x = g.conv(x, { name: layer.label, weight: kernel, bias, pads: [layer.pad, layer.pad, layer.pad, layer.pad] });
      size += 2 * layer.pad - layer.kernel[0] + 1;
    }
    if (layer.relu) x = g.relu(x, { name: `${layer.label}/relu`, output: layer.label === 'fc7' && head === 'gemm' ? 'fc7' : undefined });
    if (layer.poolAfter) {
      x = g.maxPool(x, { name: `pool${layer.label.slice(4, 5)}`, kernel: [2, 2], strides: [2, 2] });
      size = Math.floor(size / 2);
    }
    if (layer.label === 'fc7') fc7 = head === 'conv' ? g.flatten(x, 1, { name: 'fc7/flatten', output: 'fc7' }) : x;
    if (layer.label === 'fc8' && head === 'conv') x = g.flatten(x, 1, { name: 'fc8/flatten', output: 'fc8' });
  });

  g.output(fc7, 'float32', ['N', widths.fc7]);
  g.output('fc8', 'float32', ['N', widths.fc8]);
  const model = g.toModel({
    producerName: 'lookalike convertVggFace',
    docString:
      `VGG-Face (Parkhi et al. 2015)${opts.docSource ? ` from ${opts.docSource}` : ''}. Input: RGB 0..255, NCHW, ${INPUT_SIZE}x${INPUT_SIZE}; ` +
      "the graph subtracts the mean and feeds the weights BGR. Outputs: 'fc7' (after ReLU) and 'fc8', flattened, not normalised.",
    metadata: {
      input_layout: 'NCHW',
      input_range: '0..255',
      channel_order: 'RGB',
      mean_bgr: MEAN_BGR.join(','),
      head,
      widths: JSON.stringify(widths),
      ...opts.metadata,
    },
  });
  return { model, parameters, nodes: model.graph.node.length };
}
