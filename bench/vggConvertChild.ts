import { readFileSync } from 'node:fs';
import { convertVggFace } from '../src/jobs/convertVggFace.ts';

// One VGG-Face conversion in a process of its own, for bench/vggConvert.ts: `<weights.h5> <modelsDir>`.
// Prints one JSON line: seconds, peak resident memory (VmHWM, MiB), the ONNX file's size.

const [file, modelsDir] = process.argv.slice(2);
const started = performance.now();
const result = await convertVggFace({ file: file!, modelsDir: modelsDir! });
const seconds = (performance.now() - started) / 1000;
const peakKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
console.log(JSON.stringify({ seconds, peakMb: peakKb / 1024, onnxMb: result.bytes / 2 ** 20, parameters: result.parameters }));
