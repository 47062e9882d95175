import os from 'node:os';
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeProto,
  type DimProto,
  type ElemType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.ts';

// A small builder for ONNX inference graphs in the default (ai.onnx) domain. Values are named by
// strings; every op helper returns the name of its output, so a network reads as straight-line
// code. Weights go in as typed arrays and are stored as raw little-endian initializers.

/** A dimension: a fixed size, or a symbolic name such as 'N' for a dynamic batch. */
export type Dim = number | string;

/** Constant tensor data; the element type follows from the array class. */
export interface TensorData {
  dims: readonly number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
}

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
};

export type Attrs = Record<string, AttrValue | undefined>;

export interface OpOptions {
  /** Node name; also the stem of generated output and weight names. */
  name?: string;
  /** Name of the output value (e.g. a graph output); generated when absent. */
  output?: string;
}

/** Spatial padding in ONNX order: [top, left, bottom, right] for 2-D ops. */
export type Pads2d = readonly [number, number, number, number];

export interface ConvOptions extends OpOptions {
  /** Weight [out, in/group, kh, kw]: an initializer's name, or data to store as one. */
  weight: string | TensorData;
  bias?: string | TensorData;
  strides?: readonly [number, number];
  pads?: Pads2d;
  dilations?: readonly [number, number];
  group?: number;
}

export interface PoolOptions extends OpOptions {
  kernel: readonly [number, number];
  strides?: readonly [number, number];
  pads?: Pads2d;
  ceilMode?: boolean;
}

export interface ModelMeta {
  producerName: string;
  producerVersion?: string;
  docString?: string;
  /** Free-form key/value pairs stored in the model (metadata_props). */
  metadata?: Record<string, string>;
}

// Lowest IR version able to carry each opset (onnx/helper.py VERSION_TABLE).
const IR_VERSION_FOR_OPSET: Record<number, number> = {
  13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10,
};

export const DEFAULT_OPSET = 17;

if (os.endianness() !== 'LE') {
  // raw_data is little-endian by definition; typed arrays use the host order.
  throw new Error('the ONNX writer assumes a little-endian host');
}

function elemTypeOf(data: TensorData['data']): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function toAttribute(name: string, value: AttrValue): AttributeProto {
  switch (value.kind) {
    case 'int':
      return { name, type: AttributeType.INT, i: value.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...value.value] };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: value.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: [...value.value] };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.value) };
  }
}

function valueInfo(name: string, elemType: ElemType, dims: readonly Dim[]): ValueInfoProto {
  const dim: DimProto[] = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: DataType[elemType], shape: { dim } } } };
}

export function floatTensor(dims: readonly number[], values: ArrayLike<number>): TensorData {
  return { dims, data: Float32Array.from(values) };
}

export function int64Tensor(dims: readonly number[], values: readonly number[]): TensorData {
  return { dims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly nodes: NodeProto[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  /** Every value defined so far: graph inputs, initializers and node outputs. */
  private readonly defined = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(opts: { name: string; opset?: number }) {
    this.name = opts.name;
    this.opset = opts.opset ?? DEFAULT_OPSET;
    if (IR_VERSION_FOR_OPSET[this.opset] === undefined) {
      throw new Error(`opset ${this.opset} is not supported by this writer (13..21)`);
    }
  }

  /** Declares a graph input. */
  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.define(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    if (!this.defined.has(name)) throw new Error(`output ${name} is not produced by the graph`);
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Stores a constant tensor under the given name. */
  initializer(name: string, tensor: TensorData): string {
    const count = product(tensor.dims);
    if (count !== tensor.data.length) {
      throw new Error(`initializer ${name}: dims [${tensor.dims.join(',')}] hold ${count} values, data has ${tensor.data.length}`);
    }
    this.define(name);
    const { data } = tensor;
    this.initializers.set(name, {
      name,
      dims: [...tensor.dims],
      data_type: DataType[elemTypeOf(data)],
      raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: readonly string[], attrs: Attrs = {}, opts: OpOptions = {}): string {
    const nodeName = opts.name ?? this.uniqueName(opType);
    const [out] = this.opMulti(opType, inputs, [opts.output ?? `${nodeName}_out`], attrs, nodeName);
    return out as string;
  }

  /** Adds a node with several named outputs. An empty input name stands for an omitted optional input. */
  opMulti(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Attrs = {}, name?: string): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.defined.has(input)) throw new Error(`${opType}: input ${input} is not defined yet`);
    }
    for (const output of outputs) this.define(output);
    const attribute: AttributeProto[] = [];
    for (const [key, value] of Object.entries(attrs)) if (value) attribute.push(toAttribute(key, value));
    this.nodes.push({
      name: name ?? this.uniqueName(opType),
      op_type: opType,
      input: [...inputs],
      output: [...outputs],
      attribute,
    });
    return [...outputs];
  }

  conv(x: string, opts: ConvOptions): string {
    const name = opts.name ?? this.uniqueName('Conv');
    const weight = this.ref(`${name}.weight`, opts.weight);
    const inputs = [x, weight];
    if (opts.bias !== undefined) inputs.push(this.ref(`${name}.bias`, opts.bias));
    return this.op('Conv', inputs, {
      strides: opts.strides && attr.ints(opts.strides),
      pads: opts.pads && attr.ints(opts.pads),
      dilations: opts.dilations && attr.ints(opts.dilations),
      group: opts.group !== undefined ? attr.int(opts.group) : undefined,
    }, { name, output: opts.output });
  }

  relu(x: string, opts?: OpOptions): string {
    return this.op('Relu', [x], {}, opts);
  }

  add(a: string, b: string, opts?: OpOptions): string {
    return this.op('Add', [a, b], {}, opts);
  }

  sub(a: string, b: string, opts?: OpOptions): string {
    return this.op('Sub', [a, b], {}, opts);
  }

  mul(a: string, b: string, opts?: OpOptions): string {
    return this.op('Mul', [a, b], {}, opts);
  }

  div(a: string, b: string, opts?: OpOptions): string {
    return this.op('Div', [a, b], {}, opts);
  }

  matMul(a: string, b: string, opts?: OpOptions): string {
    return this.op('MatMul', [a, b], {}, opts);
  }

  /** alpha * A' * B' + beta * C, with A' and B' optionally transposed. */
  gemm(a: string, b: string, c?: string, opts: OpOptions & { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): string {
    return this.op('Gemm', c === undefined ? [a, b] : [a, b, c], {
      transA: opts.transA ? attr.int(1) : undefined,
      transB: opts.transB ? attr.int(1) : undefined,
      alpha: opts.alpha !== undefined ? attr.float(opts.alpha) : undefined,
      beta: opts.beta !== undefined ? attr.float(opts.beta) : undefined,
    }, opts);
  }

  maxPool(x: string, opts: PoolOptions): string {
    return this.op('MaxPool', [x], this.poolAttrs(opts), opts);
  }

  /** Padding cells, if any, are left out of each average (count_include_pad = 0). */
  averagePool(x: string, opts: PoolOptions): string {
    return this.op('AveragePool', [x], this.poolAttrs(opts), opts);
  }

  globalAveragePool(x: string, opts?: OpOptions): string {
    return this.op('GlobalAveragePool', [x], {}, opts);
  }

  /**
   * Constant padding; `pads` lists all begins then all ends, one per axis
   * ([x1_begin, x2_begin, ..., x1_end, x2_end, ...]).
   */
  pad(x: string, pads: readonly number[], opts: OpOptions & { value?: number } = {}): string {
    const name = opts.name ?? this.uniqueName('Pad');
    const padsName = this.initializer(`${name}.pads`, int64Tensor([pads.length], pads));
    const inputs = [x, padsName];
    if (opts.value !== undefined && opts.value !== 0) {
      inputs.push(this.initializer(`${name}.value`, floatTensor([], [opts.value])));
    }
    return this.op('Pad', inputs, { mode: attr.string('constant') }, { name, output: opts.output });
  }

  reduceMean(x: string, axes: readonly number[], opts: OpOptions & { keepDims?: boolean } = {}): string {
    const name = opts.name ?? this.uniqueName('ReduceMean');
    const keepdims = attr.int(opts.keepDims === false ? 0 : 1);
    // Opset 18 moved `axes` from an attribute to an input.
    if (this.opset >= 18) {
      const axesName = this.initializer(`${name}.axes`, int64Tensor([axes.length], axes));
      return this.op('ReduceMean', [x, axesName], { keepdims }, { name, output: opts.output });
    }
    return this.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims }, { name, output: opts.output });
  }

  /** -1 in `shape` takes the remaining size; 0 copies the input's dimension. */
  reshape(x: string, shape: readonly number[], opts: OpOptions = {}): string {
    const name = opts.name ?? this.uniqueName('Reshape');
    const shapeName = this.initializer(`${name}.shape`, int64Tensor([shape.length], shape));
    return this.op('Reshape', [x, shapeName], {}, { name, output: opts.output });
  }

  flatten(x: string, axis = 1, opts?: OpOptions): string {
    return this.op('Flatten', [x], { axis: attr.int(axis) }, opts);
  }

  transpose(x: string, perm: readonly number[], opts?: OpOptions): string {
    return this.op('Transpose', [x], { perm: attr.ints(perm) }, opts);
  }

  concat(xs: readonly string[], axis: number, opts?: OpOptions): string {
    return this.op('Concat', xs, { axis: attr.int(axis) }, opts);
  }

  softmax(x: string, axis = -1, opts?: OpOptions): string {
    return this.op('Softmax', [x], { axis: attr.int(axis) }, opts);
  }

  /** x / ||x||_p along `axis`. */
  lpNormalization(x: string, axis = -1, p: 1 | 2 = 2, opts?: OpOptions): string {
    return this.op('LpNormalization', [x], { axis: attr.int(axis), p: attr.int(p) }, opts);
  }

  identity(x: string, opts?: OpOptions): string {
    return this.op('Identity', [x], {}, opts);
  }

  toModel(meta: ModelMeta): ModelProto {
    if (this.inputs.length === 0 || this.outputs.length === 0) {
      throw new Error(`graph ${this.name} needs at least one input and one output`);
    }
    return {
      ir_version: IR_VERSION_FOR_OPSET[this.opset] as number,
      opset_import: [{ domain: '', version: this.opset }],
      producer_name: meta.producerName,
      producer_version: meta.producerVersion ?? '',
      doc_string: meta.docString,
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: this.inputs,
        output: this.outputs,
      },
      metadata_props: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }

  /** The serialised model, ready to write to a .onnx file. */
  toBytes(meta: ModelMeta): Uint8Array {
    return encodeModel(this.toModel(meta));
  }

  private poolAttrs(opts: PoolOptions): Attrs {
    return {
      kernel_shape: attr.ints(opts.kernel),
      strides: opts.strides && attr.ints(opts.strides),
      pads: opts.pads && attr.ints(opts.pads),
      ceil_mode: opts.ceilMode ? attr.int(1) : undefined,
    };
  }

  private ref(name: string, value: string | TensorData): string {
    return typeof value === 'string' ? value : this.initializer(name, value);
  }

  private define(name: string): void {
    if (!name) throw new Error('value names must not be empty');
    if (this.defined.has(name)) throw new Error(`value ${name} is defined twice`);
    this.defined.add(name);
  }

  private uniqueName(stem: string): string {
    const n = this.counters.get(stem) ?? 0;
    this.counters.set(stem, n + 1);
    return `${stem}_${n}`;
  }
}
