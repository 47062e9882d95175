import { readFile } from 'node:fs/promises';
import path from 'node:path';

// Reads a TensorFlow.js weights manifest and its binary shards into float32 arrays, undoing the
// quantisation tfjs's converter applies (uint8/uint16 affine: value = q * scale + min; float16).

export interface TfjsTensor {
  shape: number[];
  data: Float32Array;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

const BYTES: Record<string, number> = { float32: 4, uint8: 1, uint16: 2, float16: 2 };

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function decodeEntry(entry: ManifestEntry, bytes: Buffer, offset: number): { tensor: TfjsTensor; size: number } {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const q = entry.quantization;
  const stored = q?.dtype ?? entry.dtype;
  const width = BYTES[stored];
  if (entry.dtype !== 'float32' || width === undefined) {
    throw new Error(`tfjs weight ${entry.name}: unsupported dtype ${entry.dtype}${q ? ` quantized as ${q.dtype}` : ''}`);
  }
  const size = count * width;
  if (offset + size > bytes.length) throw new Error(`tfjs weight ${entry.name} runs past the end of the weights file`);
  const data = new Float32Array(count);
  if (stored === 'float32') {
    for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(offset + 4 * i);
  } else if (stored === 'float16') {
    for (let i = 0; i < count; i++) data[i] = float16ToFloat32(bytes.readUInt16LE(offset + 2 * i));
  } else {
    const scale = q?.scale;
    const min = q?.min;
    if (scale === undefined || min === undefined) throw new Error(`tfjs weight ${entry.name}: ${stored} quantization without scale/min`);
    for (let i = 0; i < count; i++) {
      const v = stored === 'uint8' ? bytes[offset + i]! : bytes.readUInt16LE(offset + 2 * i);
      data[i] = v * scale + min;
    }
  }
  return { tensor: { shape: entry.shape, data }, size };
}

/** All tensors of a tfjs weights manifest (`*-weights_manifest.json`), by name, dequantised. */
export async function readTfjsWeights(manifestPath: string): Promise<Map<string, TfjsTensor>> {
  const groups = JSON.parse(await readFile(manifestPath, 'utf8')) as ManifestGroup[];
  const dir = path.dirname(manifestPath);
  const tensors = new Map<string, TfjsTensor>();
  for (const group of groups) {
    // A group's shards are one byte stream cut into files.
    const bytes = Buffer.concat(await Promise.all(group.paths.map((p) => readFile(path.join(dir, p)))));
    let offset = 0;
    for (const entry of group.weights) {
      const { tensor, size } = decodeEntry(entry, bytes, offset);
      tensors.set(entry.name, tensor);
      offset += size;
    }
    if (offset !== bytes.length) {
      throw new Error(`${manifestPath}: ${bytes.length - offset} bytes left over after the last weight of a group`);
    }
  }
  return tensors;
}
