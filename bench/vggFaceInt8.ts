import { GraphBuilder, attr, floatTensor } from '../src/jobs/onnx/graphBuilder.ts';
import type { ModelProto } from '../src/jobs/onnx/proto.ts';
import { INPUT_SIZE, MEAN_BGR, reverseInputChannels, vggLayerPlan, type LayerWeights, type VggLayer, type VggWidths } from '../src/jobs/vggFaceGraph.ts';
import { quantizePerChannel } from '../src/jobs/onnx/calibration.ts';

// The dynamically quantised int8 variant of the VGG-Face graph, measured against the static one that
// ships (src/jobs/vggFaceInt8.ts), quantised the way onnxruntime's Python quantize_dynamic does it: weights quantised once, symmetric per output channel; activations
// quantised per tensor at run time (DynamicQuantizeLinear), integer conv/matmul, then rescaled to
// float. Same contract as the fp32 graph (input 'input', outputs 'fc7' and 'fc8'). Only for the
// benchmark: whether it keeps VGG-Face's accuracy can only be judged with the real weights.

const FLOAT = 1;

export function buildVggFaceDynamicInt8Graph(widths: VggWidths, weightsOf: (layer: VggLayer, index: number) => LayerWeights): ModelProto {
  const g = new GraphBuilder({ name: 'vgg_face_int8' });
  const input = g.input('input', 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  let x = g.sub(input, g.initializer('mean_rgb', floatTensor([1, 3, 1, 1], [...MEAN_BGR].reverse())), { name: 'subtract_mean' });

  vggLayerPlan(widths).forEach((layer, index) => {
    const w = weightsOf(layer, index);
    const kernel = index === 0 ? reverseInputChannels(w.kernel) : w.kernel;
    const [cout] = kernel.dims as [number];
    const { q, scale } = quantizePerChannel(kernel);
    const name = layer.label;
    if (layer.label === 'fc6') x = g.flatten(x, 1, { name: 'fc6/flatten' });
    const [xq, xScale, xZero] = g.opMulti('DynamicQuantizeLinear', [x], [`${name}/xq`, `${name}/x_scale`, `${name}/x_zero`]) as [string, string, string];
    let acc: string;
    let channelShape: number[];
    if (layer.label.startsWith('fc')) {
      // MatMulInteger takes B as [in, out]: transpose the [out, in] rows, keeping int8 (MLAS's u8s8 path).
      const cin = q.length / cout;
      const b = new Int8Array(q.length);
      for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) b[i * cout + o] = q[o * cin + i]!;
      const bq = g.initializer(`${name}.wq`, { dims: [cin, cout], data: b });
      const bZero = g.initializer(`${name}.w_zero`, { dims: [], data: new Int8Array(1) });
      acc = g.op('MatMulInteger', [xq, bq, xZero, bZero], {}, { name: `${name}/matmul` });
      channelShape = [1, cout];
      acc = g.op('Cast', [acc], { to: attr.int(FLOAT) }, { name: `${name}/cast` });
      acc = g.mul(acc, g.mul(xScale, g.initializer(`${name}.w_scale`, { dims: channelShape, data: scale }), { name: `${name}/scale` }), { name: `${name}/rescale` });
    } else {
      // ConvInteger on CPU takes uint8 weights only: shift the symmetric int8 values by 128.
      const u = new Uint8Array(q.length);
      for (let k = 0; k < q.length; k++) u[k] = q[k]! + 128;
      const wq = g.initializer(`${name}.wq`, { dims: kernel.dims, data: u });
      const wZero = g.initializer(`${name}.w_zero`, { dims: [], data: Uint8Array.of(128) });
      acc = g.op('ConvInteger', [xq, wq, xZero, wZero], { pads: attr.ints([layer.pad, layer.pad, layer.pad, layer.pad]) }, { name: `${name}/conv` });
      channelShape = [1, cout, 1, 1];
      acc = g.op('Cast', [acc], { to: attr.int(FLOAT) }, { name: `${name}/cast` });
      acc = g.mul(acc, g.mul(xScale, g.initializer(`${name}.w_scale`, { dims: channelShape, data: scale }), { name: `${name}/scale` }), { name: `${name}/rescale` });
    }
    x = g.add(acc, g.initializer(`${name}.bias`, { dims: channelShape, data: w.bias }), { name: `${name}/bias`, output: layer.label === 'fc8' ? 'fc8' : undefined });
    if (layer.relu) x = g.relu(x, { name: `${name}/relu`, output: layer.label === 'fc7' ? 'fc7' : undefined });
    if (layer.poolAfter) x = g.maxPool(x, { name: `pool${name.slice(4, 5)}`, kernel: [2, 2], strides: [2, 2] });
  });
  g.output('fc7', 'float32', ['N', widths.fc7]);
  g.output('fc8', 'float32', ['N', widths.fc8]);
  return g.toModel({ producerName: 'lookalike bench (int8 dynamic VGG-Face)' });
}
