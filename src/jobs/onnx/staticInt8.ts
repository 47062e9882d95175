import { activationQuant, quantizePerChannel, type ActivationRanges } from './calibration.ts';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from './proto.ts';

// Static int8 quantisation of a float convolutional ONNX graph, written as QuantizeLinear /
// DequantizeLinear pairs (the QDQ form), which ONNX Runtime turns into integer kernels (QLinearConv,
// QLinearAdd, uint8 pooling) when it loads the graph. Unlike vggFaceInt8.ts, which builds VGG-Face's
// integer graph layer by layer, this rewrites any graph of convolutions, adds, ReLUs, pads and max
// pools, whatever built it:
//
//   weights      int8, symmetric, one scale per output channel (DequantizeLinear on axis 0)
//   biases       int32, at the input's scale times each channel's weight scale
//   activations  uint8, one scale and zero point per tensor, from ranges measured beforehand by
//                running the float graph on real inputs (calibration, RangeObserver): every
//                activation a Conv, Add, Relu, Pad or MaxPool reads or writes
//
// Everything else (the input's normalisation, average pools, the head after the last convolution)
// stays float. probeGraph() gives the float graph with those activations as extra outputs: what
// calibration runs.

/** Which inputs of each operator are activations to quantise (the rest are weights, pads, shapes). */
const ACTIVATION_INPUTS: Readonly<Record<string, readonly number[]>> = { Conv: [0], Add: [0, 1], Relu: [0], Pad: [0], MaxPool: [0] };

const FLOAT = DataType.float32;
/** Per-axis QuantizeLinear / DequantizeLinear need opset 13. */
const MIN_OPSET = 13;

function initializerNames(model: ModelProto): Set<string> {
  return new Set(model.graph.initializer.map((t) => t.name));
}

/** The activations quantiseActivations() rewrites, in graph order. */
export function quantisedActivations(model: ModelProto): string[] {
  const weights = initializerNames(model);
  const out = new Set<string>();
  for (const node of model.graph.node) {
    const inputs = ACTIVATION_INPUTS[node.op_type];
    if (!inputs) continue;
    for (const i of inputs) if (node.input[i]) out.add(node.input[i]);
    out.add(node.output[0]!);
  }
  return [...out].filter((name) => !weights.has(name));
}

/** The float graph with every activation quantisedActivations() names as an output, for calibration. */
export function probeGraph(model: ModelProto): ModelProto {
  const existing = new Set(model.graph.output.map((o) => o.name));
  const probes = quantisedActivations(model)
    .filter((name) => !existing.has(name))
    // Element type only: shapes differ by tensor, and ORT infers them.
    .map((name) => ({ name, type: { tensor_type: { elem_type: FLOAT } } }) as unknown as ModelProto['graph']['output'][number]);
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...probes] } };
}

function tensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): TensorProto {
  return { name, dims, data_type: dataType, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function floatData(t: TensorProto): Float32Array {
  if (t.data_type !== FLOAT || !t.raw_data) throw new Error(`initializer ${t.name} is not float32 raw data`);
  // A copy: raw_data may be a view into the whole file at any alignment.
  return new Float32Array(Uint8Array.from(t.raw_data).buffer);
}

/** The int8 graph: `ranges` (calibration of the same graph, by activation name) set every activation's scale. */
export function quantiseStatic(model: ModelProto, ranges: ActivationRanges): ModelProto {
  const activations = quantisedActivations(model);
  const missing = activations.filter((name) => !ranges[name]);
  if (missing.length > 0) throw new Error(`no calibration range for ${missing.length} activations (first: ${missing[0]})`);
  const initializers = new Map(model.graph.initializer.map((t) => [t.name, t]));
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const quant = new Map(activations.map((name) => [name, activationQuant(ranges[name]!)]));

  // Each activation once: x -> Q -> DQ -> x/dq, read by every node that read x.
  const qdq = (name: string): NodeProto[] => {
    const { scale, zero } = quant.get(name)!;
    added.push(tensor(`${name}/scale`, [], FLOAT, new Float32Array([scale])), tensor(`${name}/zero`, [], DataType.uint8, new Uint8Array([zero])));
    const params = [`${name}/scale`, `${name}/zero`];
    return [
      { name: `${name}/quantize`, op_type: 'QuantizeLinear', input: [name, ...params], output: [`${name}/q`], attribute: [] },
      { name: `${name}/dequantize`, op_type: 'DequantizeLinear', input: [`${name}/q`, ...params], output: [`${name}/dq`], attribute: [] },
    ];
  };
  const dequantised = (name: string) => (quant.has(name) ? `${name}/dq` : name);
  const perChannel = (q: string, scale: string, zero: string, out: string): NodeProto => ({
    name: `${out}/dequantize`,
    op_type: 'DequantizeLinear',
    input: [q, scale, zero],
    output: [out],
    attribute: [{ name: 'axis', type: 2, i: 0 }],
  });

  for (const input of model.graph.input) if (quant.has(input.name)) nodes.push(...qdq(input.name));
  for (const node of model.graph.node) {
    const rewritten: NodeProto = { ...node, input: node.input.map(dequantised) };
    if (node.op_type === 'Conv') {
      const weight = initializers.get(node.input[1]!);
      if (!weight) throw new Error(`Conv ${node.name}: its weight is not an initializer`);
      const { q, scale } = quantizePerChannel({ dims: weight.dims, data: floatData(weight) });
      const channels = weight.dims[0]!;
      const w = `${weight.name}/int8`;
      added.push(tensor(w, weight.dims, DataType.int8, q), tensor(`${w}/scale`, [channels], FLOAT, scale), tensor(`${w}/zero`, [channels], DataType.int8, new Int8Array(channels)));
      nodes.push(perChannel(w, `${w}/scale`, `${w}/zero`, `${w}/dq`));
      rewritten.input[1] = `${w}/dq`;
      const bias = node.input[2] ? initializers.get(node.input[2]) : undefined;
      if (bias) {
        const inputScale = quant.get(node.input[0]!)!.scale;
        const b = floatData(bias);
        const bq = new Int32Array(channels);
        const bs = new Float32Array(channels);
        for (let c = 0; c < channels; c++) {
          bs[c] = inputScale * scale[c]!;
          bq[c] = Math.round(b[c]! / bs[c]!);
        }
        const name = `${bias.name}/int32`;
        added.push(tensor(name, [channels], DataType.int32, bq), tensor(`${name}/scale`, [channels], FLOAT, bs), tensor(`${name}/zero`, [channels], DataType.int32, new Int32Array(channels)));
        nodes.push(perChannel(name, `${name}/scale`, `${name}/zero`, `${name}/dq`));
        rewritten.input[2] = `${name}/dq`;
      }
    }
    nodes.push(rewritten);
    for (const output of node.output) if (quant.has(output)) nodes.push(...qdq(output));
  }

  // Graph outputs keep their float tensors (a consumer inside reads the dequantised copy).
  const replaced = new Set(model.graph.node.filter((n) => n.op_type === 'Conv').flatMap((n) => n.input.slice(1)));
  const kept = model.graph.initializer.filter((t) => !replaced.has(t.name));
  const opset = model.opset_import.map((o) => (!o.domain && o.version < MIN_OPSET ? { ...o, version: MIN_OPSET } : o));
  return { ...model, opset_import: opset, graph: { ...model.graph, node: nodes, initializer: [...kept, ...added] } };
}
