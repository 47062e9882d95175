import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FacePipeline } from '../src/core/faces.ts';
import type { FaceEmbedder } from '../src/core/models/embedder.ts';
import { DEFAULT_MODEL_CHIP } from '../src/core/models/faceRecognitionNet.ts';
import { loadModel } from '../src/core/models/registry.ts';
import { cosine } from '../src/core/similarity.ts';
import { convertFaceRecognitionNet, convertFaceRecognitionNetInt8 } from '../src/jobs/convertFaceRecognitionNet.ts';
import { calibrationCrops, DEFAULT_MODEL_CALIBRATION_CROPS } from '../src/jobs/faceCalibration.ts';
import { config, loadPipeline } from '../tests/support/engine.ts';
import { describeFolder, galleryProtocol, leaveOneOut, type DescribedPhoto } from '../tests/support/evaluate.ts';
import { peopleDir, validationDir } from '../tests/support/paths.ts';
import { machine, median } from './stats.ts';

// What the default descriptor model (FaceRecognitionNet) gives in int8 (`model convert-default
// --precision int8`), against fp32, in one run: the int8 graph is made as the command makes it
// (calibrated on the faces of faces/people, the tuning photos, up to the command's default count) into a
// scratch models folder, then judged on faces/validation, which nothing was tuned on: the
// recognition protocols of bench/accuracy.ts, each face's descriptor against its fp32 one, and the
// time per face at batch 1, the two models taking turns. The default stays fp32.
// `node --import tsx bench/defaultInt8.ts`

export interface DefaultInt8Figures {
  calibrationChips: number;
  /** Median ms per face at batch 1 (`predict`, one ORT thread). */
  msPerFace: { fp32: number; int8: number };
  /** Cosine of each validation face's int8 descriptor with its fp32 one. */
  agreement: { faces: number; min: number; p5: number; median: number };
  validation: Record<'fp32' | 'int8', { top1: number; top5: number; galleryTop1: number }>;
}

async function loadInt8(modelsDir: string): Promise<FaceEmbedder> {
  const model = await loadModel('default', { modelsDir, device: 'cpu', precision: 'int8' });
  if (!model.ok) throw new Error(model.error.message);
  return model.value;
}

function protocols(validation: DescribedPhoto[], people: DescribedPhoto[]) {
  const loo = leaveOneOut(validation, validationDir);
  return { top1: loo.top1, top5: loo.top5, galleryTop1: galleryProtocol(validation, people, 3, validationDir).top1 };
}

export async function benchDefaultInt8(log: (line: string) => void = () => {}): Promise<DefaultInt8Figures> {
  const pipeline = await loadPipeline();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'lookalike-int8-'));
  try {
    const chips = await calibrationCrops(peopleDir, { modelsDir: config.modelsDir, device: 'cpu', chip: DEFAULT_MODEL_CHIP, count: DEFAULT_MODEL_CALIBRATION_CROPS });
    if (!chips.ok) throw new Error(chips.error.message);
    await convertFaceRecognitionNet({ modelsDir: scratch });
    await convertFaceRecognitionNetInt8({ modelsDir: scratch, calibration: chips.value });
    log(`calibrated on ${chips.value.length} faces of faces/people`);
    const int8 = await loadInt8(scratch);
    const int8Pipeline: FacePipeline = { detector: pipeline.detector, embedder: int8 };

    const one = [chips.value[0]!];
    const times = { fp32: [] as number[], int8: [] as number[] };
    for (let i = 0; i < 85; i++) {
      for (const [name, model] of [['fp32', pipeline.embedder], ['int8', int8]] as const) {
        const t = performance.now();
        await model.predict(one);
        if (i >= 5) times[name].push(performance.now() - t);
      }
    }

    const validation32 = await describeFolder(validationDir, pipeline);
    const validation8 = await describeFolder(validationDir, int8Pipeline);
    const people32 = await describeFolder(peopleDir, pipeline);
    const people8 = await describeFolder(peopleDir, int8Pipeline);
    await int8.dispose();
    const cosines = validation32
      .flatMap((p, i) => (p.descriptor && validation8[i]!.descriptor ? [cosine(p.descriptor, validation8[i]!.descriptor!)] : []))
      .sort((a, b) => a - b);
    const figures: DefaultInt8Figures = {
      calibrationChips: chips.value.length,
      msPerFace: { fp32: median(times.fp32), int8: median(times.int8) },
      agreement: { faces: cosines.length, min: cosines[0]!, p5: cosines[Math.floor(0.05 * cosines.length)]!, median: cosines[cosines.length >> 1]! },
      validation: { fp32: protocols(validation32, people32), int8: protocols(validation8, people8) },
    };
    log(JSON.stringify(figures));
    return figures;
  } finally {
    await pipeline.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`machine: ${machine()}`);
  await benchDefaultInt8(console.log);
}
