import { open, stat } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import { LookalikeError } from '../core/errors.ts';

// Reads Keras 1/2 weight files (model.save_weights / model.save to HDF5) through h5wasm, the only
// module that imports it. The layout, as Keras's saving code writes it:
//   root (or /model_weights in a full model.save file)
//     @layer_names            every layer in model order, weightless ones (padding, pooling) too
//     /<layer>                one group per layer
//       @weight_names         that layer's weights in order, e.g. 'conv2d_1/kernel:0', 'conv2d_1/bias:0'
//       /<weight name>        a dataset; a '/' in the name nests it one group deeper
// Keras splits an attribute too large for an HDF5 object header into name0, name1, ...

/** A weights file that is not what the conversion needs: not HDF5, not Keras, or the wrong network. */
export class KerasWeightsError extends LookalikeError {}

export interface KerasWeight {
  /** As listed in weight_names, e.g. 'conv2d_1/kernel:0' or 'convolution2d_1_W:0'. */
  name: string;
  shape: number[];
}

export interface KerasLayer {
  name: string;
  /** Empty for layers without weights. */
  weights: KerasWeight[];
}

export interface KerasWeightsFile {
  readonly file: string;
  /** Every layer in layer_names order, weightless ones included. */
  readonly layers: readonly KerasLayer[];
  /**
   * A weight's values as float32, row-major in the stored shape. `ranges` selects [start, end) along
   * the leading axes, so a large kernel can be read a slice at a time.
   */
  read(layer: KerasLayer, weight: KerasWeight, ranges?: readonly (readonly [number, number])[]): Float32Array;
  close(): void;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const H5T_FLOAT = 1;

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

/**
 * HDF5 puts its superblock at offset 0, or after a user block at 512, 1024, 2048, ... bytes. Checked
 * before h5wasm opens the file, since the HDF5 library prints its error stack to stderr on failure.
 */
async function hasHdf5Signature(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HDF5_SIGNATURE.length);
    for (let offset = 0; offset + buf.length <= size && offset <= 1 << 20; offset = offset === 0 ? 512 : offset * 2) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead === buf.length && buf.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

function asStrings(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return [value];
  if (value instanceof Uint8Array) return [new TextDecoder().decode(value).replace(/\0+$/, '')];
  // Keras writes an empty name list as an empty float array (numpy's default dtype).
  if (ArrayBuffer.isView(value)) return (value as unknown as ArrayLike<unknown>).length === 0 ? [] : null;
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const item of value) {
      const s = asStrings(item);
      if (s === null || s.length !== 1) return null;
      out.push(s[0]!);
    }
    return out;
  }
  return null;
}

/** A list-of-names attribute, also when Keras split it into name0, name1, ...; null when absent. */
function nameList(group: H5Group, attribute: string, where: string): string[] | null {
  const attrs = group.attrs;
  let values: unknown[];
  if (attribute in attrs) {
    values = [group.get_attribute(attribute, false)];
  } else if (`${attribute}0` in attrs) {
    values = [];
    for (let i = 0; `${attribute}${i}` in attrs; i++) values.push(group.get_attribute(`${attribute}${i}`, false));
  } else {
    return null;
  }
  const names: string[] = [];
  for (const value of values) {
    const list = asStrings(value);
    if (list === null) throw new KerasWeightsError(`${where}: attribute ${attribute} is not a list of names`);
    names.push(...list);
  }
  return names;
}

function isGroup(entity: unknown): entity is H5Group {
  return entity instanceof h5wasm.Group;
}

function isDataset(entity: unknown): entity is H5Dataset {
  return entity instanceof h5wasm.Dataset;
}

export async function openKerasWeights(file: string): Promise<KerasWeightsFile> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new KerasWeightsError(`${file} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof KerasWeightsError) throw err;
    throw new KerasWeightsError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!(await hasHdf5Signature(file, size))) {
    throw new KerasWeightsError(`${file} is not an HDF5 file (no HDF5 signature): expected Keras weights such as vgg_face_weights.h5`);
  }

  await h5wasm.ready;
  let h5: InstanceType<typeof h5wasm.File>;
  try {
    h5 = new h5wasm.File(file, 'r');
  } catch (err) {
    throw new KerasWeightsError(`${file} could not be opened as HDF5: ${String(err)}`);
  }

  try {
    // model.save() files keep the weights under /model_weights; save_weights() files at the root.
    const nested = h5.get('model_weights');
    const root: H5Group = nameList(h5, 'layer_names', file) === null && isGroup(nested) ? nested : h5;
    const layerNames = nameList(root, 'layer_names', file);
    if (layerNames === null) {
      throw new KerasWeightsError(
        `${file} is HDF5 but not a Keras weights file: it has no layer_names attribute (Keras 3 .weights.h5 files are not supported)`,
      );
    }

    const datasets = new Map<KerasWeight, H5Dataset>();
    const layers: KerasLayer[] = layerNames.map((name) => {
      const group = root.get(name);
      if (!isGroup(group)) throw new KerasWeightsError(`${file}: layer "${name}" is listed in layer_names but missing from the file`);
      const weightNames = nameList(group, 'weight_names', `${file}: layer "${name}"`) ?? [];
      const weights = weightNames.map((weightName) => {
        const dataset = group.get(weightName);
        if (!isDataset(dataset)) throw new KerasWeightsError(`${file}: weight "${weightName}" of layer "${name}" is missing from the file`);
        const { type, size: bytes } = dataset.metadata;
        if (type !== H5T_FLOAT || (bytes !== 4 && bytes !== 8)) {
          throw new KerasWeightsError(`${file}: weight "${weightName}" of layer "${name}" is not float32 or float64 (dtype ${String(dataset.dtype)})`);
        }
        const weight: KerasWeight = { name: weightName, shape: [...(dataset.shape ?? [])] };
        datasets.set(weight, dataset);
        return weight;
      });
      return { name, weights };
    });

    return {
      file,
      layers,
      read(layer, weight, ranges = []) {
        const dataset = datasets.get(weight);
        if (!dataset) throw new Error(`weight ${weight.name} does not belong to ${file}`);
        const value = ranges.length > 0 ? dataset.slice(ranges.map(([a, b]) => [a, b])) : dataset.value;
        if (value instanceof Float32Array) return value;
        if (value instanceof Float64Array) return Float32Array.from(value);
        throw new KerasWeightsError(`${file}: weight "${weight.name}" of layer "${layer.name}" did not read as floats`);
      },
      close() {
        h5.close();
      },
    };
  } catch (err) {
    h5.close();
    throw err;
  }
}
