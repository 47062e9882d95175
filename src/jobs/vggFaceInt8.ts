import { GraphBuilder, attr, floatTensor, type TensorData } from './onnx/graphBuilder.ts';
import { activationQuant, quantizePerChannel, type ActivationRanges } from './onnx/calibration.ts';
import type { ModelProto } from './onnx/proto.ts';
import { INPUT_SIZE, MEAN_BGR, reverseInputChannels, vggLayerPlan, type LayerWeights, type VggLayer, type VggWidths } from './vggFaceGraph.ts';

// VGG-Face in 8-bit integers, statically quantised (`--precision int8`): the same contract as the
// fp32 graph (input 'input' RGB 0..255 NCHW, outputs 'fc7' and 'fc8' in float), about a quarter of
// its weight bytes, and integer kernels (VNNI where the CPU has it) instead of float ones.
//
//   weights      int8, symmetric, one scale per output channel (max |w| / 127), zero point 0
//   activations  uint8, one scale per tensor, ranges measured beforehand by running the fp32 network
//                on real face crops (calibration): the input after the mean (signed, so with a zero
//                point) and each layer's output after its ReLU (zero point 0)
//   conv1..conv5 QLinearConv straight from uint8 to uint8: with a zero point of 0 the output cannot go
//                below zero, which is the ReLU; max pooling runs on the uint8 maps
//   fc6..fc8     MatMulInteger, rescaled to float, bias and ReLU in float; fc7 (the descriptor) and fc8
//                stay float, fc7 and fc6 are quantised again as the next layer's input
//
// The probe graph is the fp32 network with every quantised tensor as an output: what calibration runs.

const FLOAT = 1;

/** The fp32 network with the input after the mean and every layer's output after its ReLU as outputs. */
export function buildVggFaceProbeGraph(widths: VggWidths, weightsOf: (layer: VggLayer, index: number) => LayerWeights): ModelProto {
  const g = new GraphBuilder({ name: 'vgg_face_probe' });
  const input = g.input('input', 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  let x = g.sub(input, g.initializer('mean_rgb', floatTensor([1, 3, 1, 1], [...MEAN_BGR].reverse())), { name: 'subtract_mean', output: 'probe/input' });
  const outputs: [string, number[]][] = [['probe/input', [3, INPUT_SIZE, INPUT_SIZE]]];
  let size = INPUT_SIZE;
  vggLayerPlan(widths).forEach((layer, index) => {
    const w = weightsOf(layer, index);
    const kernel = index === 0 ? reverseInputChannels(w.kernel) : w.kernel;
    const [cout] = kernel.dims as [number];
    const bias: TensorData = { dims: [cout], data: w.bias };
    const out = `probe/${layer.label}`;
    if (layer.label.startsWith('fc')) {
      if (layer.label === 'fc6') x = g.flatten(x, 1, { name: 'fc6/flatten' });
      const matrix = g.initializer(`${layer.label}.weight`, { dims: [cout, kernel.data.length / cout], data: kernel.data });
      x = g.gemm(x, matrix, g.initializer(`${layer.label}.bias`, bias), { name: layer.label, transB: true, output: layer.relu ? undefined : out });
      if (layer.relu) x = g.relu(x, { name: `${layer.label}/relu`, output: out });
      outputs.push([out, [cout]]);
    } else {
      x = g.conv(x, { name: layer.label, weight: kernel, bias, pads: [layer.pad, layer.pad, layer.pad, layer.pad] });
      x = g.relu(x, { name: `${layer.label}/relu`, output: out });
      outputs.push([out, [cout, size, size]]);
      if (layer.poolAfter) {
        x = g.maxPool(x, { name: `pool_${layer.label}`, kernel: [2, 2], strides: [2, 2] });
        size = Math.floor(size / 2);
      }
    }
  });
  for (const [name, dims] of outputs) g.output(name, 'float32', ['N', ...dims]);
  return g.toModel({ producerName: 'lookalike vggFaceInt8 (calibration probe)' });
}

/** The int8 graph. `ranges` come from calibration (RangeObserver) with the same weights. */
export function buildVggFaceInt8Graph(
  widths: VggWidths,
  weightsOf: (layer: VggLayer, index: number) => LayerWeights,
  ranges: ActivationRanges,
  opts: { docSource?: string; metadata?: Record<string, string> } = {},
): { model: ModelProto; parameters: number; nodes: number } {
  const g = new GraphBuilder({ name: 'vgg_face_int8' });
  const rangeOf = (name: string) => {
    const r = ranges[name];
    if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`no calibrated range for ${name}`);
    return activationQuant(r);
  };
  const scalar = (name: string, v: number) => g.initializer(name, { dims: [], data: Float32Array.of(v) });
  const zeroU8 = (name: string, v: number) => g.initializer(name, { dims: [], data: Uint8Array.of(v) });

  const input = g.input('input', 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  const centred = g.sub(input, g.initializer('mean_rgb', floatTensor([1, 3, 1, 1], [...MEAN_BGR].reverse())), { name: 'subtract_mean' });
  let q = { value: '', ...rangeOf('input') };
  q.value = g.op('QuantizeLinear', [centred, scalar('input/scale', q.scale), zeroU8('input/zero', q.zero)], {}, { name: 'input/quantize' });
  let parameters = 0;
  let floatX = '';

  vggLayerPlan(widths).forEach((layer, index) => {
    const w = weightsOf(layer, index);
    parameters += w.kernel.data.length + w.bias.length;
    const kernel = index === 0 ? reverseInputChannels(w.kernel) : w.kernel;
    const [cout] = kernel.dims as [number];
    const { q: wq, scale: wScale } = quantizePerChannel(kernel);
    const name = layer.label;
    const out = layer.relu ? rangeOf(name) : null;

    if (!name.startsWith('fc')) {
      // bias in int32 at the accumulator's scale: input scale x weight scale, per channel.
      const bias = new Int32Array(cout);
      for (let o = 0; o < cout; o++) bias[o] = Math.round(w.bias[o]! / (q.scale * wScale[o]!));
      const y = g.op(
        'QLinearConv',
        [
          q.value,
          scalar(`${name}/x_scale`, q.scale),
          zeroU8(`${name}/x_zero`, q.zero),
          g.initializer(`${name}.wq`, { dims: kernel.dims, data: wq }),
          g.initializer(`${name}.w_scale`, { dims: [cout], data: wScale }),
          g.initializer(`${name}.w_zero`, { dims: [cout], data: new Int8Array(cout) }),
          scalar(`${name}/y_scale`, out!.scale),
          zeroU8(`${name}/y_zero`, 0),
          g.initializer(`${name}.bias`, { dims: [cout], data: bias }),
        ],
        { pads: attr.ints([layer.pad, layer.pad, layer.pad, layer.pad]) },
        { name },
      );
      q = { value: y, scale: out!.scale, zero: 0 };
      if (layer.poolAfter) q.value = g.maxPool(q.value, { name: `pool_${name}`, kernel: [2, 2], strides: [2, 2] });
      return;
    }

    // Fully connected: uint8 x int8 -> int32, then float.
    if (name === 'fc6') q.value = g.flatten(q.value, 1, { name: 'fc6/flatten' });
    const cin = wq.length / cout;
    const b = new Int8Array(wq.length);
    for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) b[i * cout + o] = wq[o * cin + i]!;
    let acc = g.op(
      'MatMulInteger',
      [q.value, g.initializer(`${name}.wq`, { dims: [cin, cout], data: b }), zeroU8(`${name}/x_zero`, q.zero), g.initializer(`${name}.w_zero`, { dims: [], data: new Int8Array(1) })],
      {},
      { name: `${name}/matmul` },
    );
    acc = g.op('Cast', [acc], { to: attr.int(FLOAT) }, { name: `${name}/cast` });
    const rescale = new Float32Array(cout);
    for (let o = 0; o < cout; o++) rescale[o] = q.scale * wScale[o]!;
    acc = g.mul(acc, g.initializer(`${name}.rescale`, { dims: [1, cout], data: rescale }), { name: `${name}/rescale` });
    floatX = g.add(acc, g.initializer(`${name}.bias`, { dims: [1, cout], data: w.bias }), { name: `${name}/bias`, output: name === 'fc8' ? 'fc8' : undefined });
    if (layer.relu) floatX = g.relu(floatX, { name: `${name}/relu`, output: name === 'fc7' ? 'fc7' : undefined });
    if (out) {
      const zero = zeroU8(`${name}/y_zero`, 0);
      q = { value: g.op('QuantizeLinear', [floatX, scalar(`${name}/y_scale`, out.scale), zero], {}, { name: `${name}/quantize` }), scale: out.scale, zero: 0 };
    }
  });
  g.output('fc7', 'float32', ['N', widths.fc7]);
  g.output('fc8', 'float32', ['N', widths.fc8]);
  const model = g.toModel({
    producerName: 'lookalike convertVggFace (int8)',
    docString:
      `VGG-Face (Parkhi et al. 2015)${opts.docSource ? ` from ${opts.docSource}` : ''}, statically quantised to int8 (weights per channel, ` +
      "activations per tensor from calibration crops). Input: RGB 0..255, NCHW, 224x224. Outputs: 'fc7' (after ReLU) and 'fc8', float.",
    metadata: { precision: 'int8', quantization: 'static, weights int8 per output channel, activations uint8 per tensor', widths: JSON.stringify(widths), ...opts.metadata },
  });
  return { model, parameters, nodes: model.graph.node.length };
}
