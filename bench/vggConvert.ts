import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VGG_FACE_WIDTHS } from '../src/jobs/vggFaceGraph.ts';
import { randomKerasWeights, writeKerasVggFile } from '../tests/support/vggFace.ts';
import { machine } from './stats.ts';

// `lookalike model convert-vggface` on a full-size file: the real weights cannot be downloaded here, so
// a Keras 2 HDF5 file with VGG-Face's layers and random weights of the real shapes (145 M of them,
// ~580 MB) is written first, then converted by the project's job in a fresh process that reports its
// time and peak resident memory. The values of the weights do not change either figure.
// `node --import tsx bench/vggConvert.ts`

export interface VggConvertBench {
  h5Mb: number;
  onnxMb: number;
  parameters: number;
  seconds: number;
  peakMb: number;
}

export async function benchVggConvert(): Promise<VggConvertBench> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-vgg-convert-'));
  try {
    const h5 = path.join(work, 'vgg_face_weights.h5');
    await writeKerasVggFile(h5, randomKerasWeights(VGG_FACE_WIDTHS, 11, { tiled: true }), { naming: 'keras2' });
    const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vggConvertChild.ts');
    const out = execFileSync(process.execPath, ['--import', 'tsx', child, h5, path.join(work, 'models')], { env: { ...process.env, LOG_LEVEL: 'warn' } }).toString();
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as Omit<VggConvertBench, 'h5Mb'>;
    return { h5Mb: statSync(h5).size / 2 ** 20, ...r };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machineLine = machine();
  const b = await benchVggConvert();
  console.log(`machine: ${machineLine}`);
  console.log(`VGG-Face conversion of a ${b.h5Mb.toFixed(0)} MB .h5 (${b.parameters.toLocaleString('en')} weights): ${b.seconds.toFixed(1)} s, peak RSS ${b.peakMb.toFixed(0)} MiB, ${b.onnxMb.toFixed(0)} MB ONNX`);
}
