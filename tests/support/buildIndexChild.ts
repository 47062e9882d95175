import { buildIndex } from '../../src/jobs/buildIndex.ts';
import { config } from './engine.ts';

// An index build in a process of its own: `<folder> <dataDir> [anything else]`. The rest of the command
// line is ignored; a test makes it long (see the onnxruntime note in src/core/runtime/ortEnv.ts).

const [folder, dataDir] = process.argv.slice(2);
const built = await buildIndex({ folder: folder!, dataDir: dataDir!, modelsDir: config.modelsDir, device: 'cpu', workers: 1 });
if (!built.ok) {
  console.error(built.error.message);
  process.exit(1);
}
console.log(`faces ${built.value.faces}`);
