import protobuf from 'protobufjs';

// The part of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto, proto2) that a writer of plain
// inference graphs needs. Field numbers and types are the upstream ones; fields this project never
// writes (sparse tensors, training info, functions, external data) are left out, which is safe:
// a reader treats absent optional fields as unset.
const ONNX_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  optional string name = 1;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}
`;

/** TensorProto.DataType values (onnx.proto). */
export const DataType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;
export type ElemType = keyof typeof DataType;

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

// Plain-object shapes of the messages above, as protobufjs's fromObject takes them (keepCase).
export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  doc_string?: string;
}

export type DimProto = { dim_value: number } | { dim_param: string };

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: DimProto[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props: { key: string; value: string }[];
}

let onnxRoot: protobuf.Root | undefined;

function onnxType(name: 'ModelProto' | 'GraphProto' | 'TensorProto'): protobuf.Type {
  onnxRoot ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
  return onnxRoot.lookupType(`onnx.${name}`);
}

function onnxModelType(): protobuf.Type {
  return onnxType('ModelProto');
}

/** Serialises a model to the ONNX wire format (what a .onnx file holds). */
export function encodeModel(model: ModelProto): Uint8Array {
  const type = onnxModelType();
  return type.encode(type.fromObject(model)).finish();
}

/** Parses .onnx bytes back into plain objects; int64 fields come back as numbers. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, arrays: true }) as ModelProto;
}

const WIRE_LENGTH_DELIMITED = 2;

/** Tag and length of a length-delimited field, as the wire format writes them before its bytes. */
function fieldHeader(type: protobuf.Type, field: string, length: number): Uint8Array {
  const id = type.fields[field]?.id;
  if (id === undefined) throw new Error(`onnx.${type.name} has no field ${field}`);
  return protobuf.Writer.create().uint32((id << 3) | WIRE_LENGTH_DELIMITED).uint32(length).finish();
}

function totalLength(parts: readonly Uint8Array[]): number {
  return parts.reduce((n, p) => n + p.length, 0);
}

/**
 * The same model as encodeModel, as a list of chunks to write one after another. Each initializer's
 * raw_data is a view of the tensor's own array, not a copy, so a model of hundreds of megabytes is
 * written without first assembling a second copy of its weights in one buffer. Fields come in
 * another order than encodeModel writes them, which protobuf readers accept (field order is free).
 */
export function encodeModelChunks(model: ModelProto): Uint8Array[] {
  const modelType = onnxType('ModelProto');
  const graphType = onnxType('GraphProto');
  const tensorType = onnxType('TensorProto');
  const { graph, ...modelRest } = model;
  const { initializer, ...graphRest } = graph;

  const graphParts: Uint8Array[] = [graphType.encode(graphType.fromObject({ ...graphRest, initializer: [] })).finish()];
  for (const tensor of initializer) {
    const { raw_data: raw, ...meta } = tensor;
    const head = tensorType.encode(tensorType.fromObject(meta)).finish();
    const rawParts = raw && raw.length > 0 ? [fieldHeader(tensorType, 'raw_data', raw.length), raw] : [];
    const body = [head, ...rawParts];
    graphParts.push(fieldHeader(graphType, 'initializer', totalLength(body)), ...body);
  }
  const head = modelType.encode(modelType.fromObject(modelRest)).finish();
  return [head, fieldHeader(modelType, 'graph', totalLength(graphParts)), ...graphParts];
}
