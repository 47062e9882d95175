import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Config } from '../../config.ts';
import type { Precision } from '../../core/models/embedder.ts';
import { calibrationCrops, DEFAULT_CALIBRATION_CROPS, DEFAULT_MODEL_CALIBRATION_CROPS } from '../../jobs/faceCalibration.ts';
import { positiveInt, precisionOption } from '../options.ts';
import { say } from '../run.ts';

// The converters (tfjs, the HDF5 reader, the ONNX writer) are imported when a conversion runs, not at
// every start of the program (the bots' included).

export function registerModelCommands(program: Command, config: Config): void {
  const model = program.command('model').description('convert face models into ONNX files under models/');

  model
    .command('convert-default')
    .description("install the default models: face-api.js's FaceRecognitionNet (npm package @vladmandic/face-api) converted to ONNX, and the BlazeFace face detector")
    .addOption(precisionOption().default('fp32'))
    .option('--calibration <folder>', 'with --precision int8: photos of faces (any layout) whose activations set the int8 ranges; a hundred or more, of different people')
    .addOption(new Option('--calibration-crops <n>', 'with --precision int8: faces to calibrate on').default(DEFAULT_MODEL_CALIBRATION_CROPS).argParser(positiveInt))
    .action(async (opts: CalibrationOptions) => {
      // Checked before anything is written: a refused command changes nothing.
      if (opts.precision === 'int8' && !opts.calibration) return refuseWithoutCalibration();
      if (opts.precision === 'int8' && !isFolder(opts.calibration!)) return refuseMissingFolder(opts.calibration!);
      const { convertFaceRecognitionNet, convertFaceRecognitionNetInt8 } = await import('../../jobs/convertFaceRecognitionNet.ts');
      const { convertBlazeFace } = await import('../../jobs/convertBlazeFace.ts');
      const { DEFAULT_MODEL_CHIP } = await import('../../core/models/faceRecognitionNet.ts');
      const converted = await convertFaceRecognitionNet({ modelsDir: config.modelsDir });
      say(`Wrote ${converted.file}`);
      const detector = await convertBlazeFace({ modelsDir: config.modelsDir });
      say(`Wrote ${detector.file}`);
      if (opts.precision !== 'int8') return;
      // Calibration finds its faces with the detector just installed.
      const chips = await calibrationCrops(opts.calibration!, { modelsDir: config.modelsDir, device: config.device, chip: DEFAULT_MODEL_CHIP, count: opts.calibrationCrops });
      if (!chips.ok) {
        say(`lookalike: ${chips.error.message}`);
        process.exitCode = 1;
        return;
      }
      const int8 = await convertFaceRecognitionNetInt8({ modelsDir: config.modelsDir, calibration: chips.value });
      say(`Wrote ${int8.file} (int8, calibrated on ${int8.calibrationChips} faces; build an index with \`index build --precision int8\` to use it).`);
    });

  model
    .command('convert-vggface <file.h5>')
    .description("convert VGG-Face's Keras weights (vgg_face_weights.h5, downloaded by you) to ONNX for --model vggface")
    .addOption(precisionOption().default('fp32'))
    .option('--calibration <folder>', 'with --precision int8: photos of faces (any layout) whose activations set the int8 ranges; a few dozen people')
    .addOption(new Option('--calibration-crops <n>', 'with --precision int8: faces to calibrate on').default(DEFAULT_CALIBRATION_CROPS).argParser(positiveInt))
    .action(async (file: string, opts: CalibrationOptions) => {
      let calibration;
      if (opts.precision === 'int8') {
        if (!opts.calibration) return refuseWithoutCalibration();
        const { VGG_FACE_CHIP } = await import('../../core/models/vggFace.ts');
        const crops = await calibrationCrops(opts.calibration, { modelsDir: config.modelsDir, device: config.device, chip: VGG_FACE_CHIP, count: opts.calibrationCrops });
        if (!crops.ok) {
          say(`lookalike: ${crops.error.message}`);
          process.exitCode = 1;
          return;
        }
        calibration = crops.value;
      }
      const { convertVggFace } = await import('../../jobs/convertVggFace.ts');
      const { KerasWeightsError } = await import('../../jobs/kerasWeights.ts');
      try {
        const converted = await convertVggFace({ file, modelsDir: config.modelsDir, precision: opts.precision, calibration });
        say(`Wrote ${converted.file} (${(converted.bytes / 2 ** 20).toFixed(0)} MB, ${converted.parameters.toLocaleString('en')} weights${calibration ? `, int8, calibrated on ${calibration.length} faces` : ''}).`);
      } catch (err) {
        // A file that is not VGG-Face is the user's to fix: one clear line, no stack trace.
        if (!(err instanceof KerasWeightsError)) throw err;
        say(`lookalike: ${err.message}`);
        process.exitCode = 1;
      }
    });
}

interface CalibrationOptions {
  precision: Precision;
  calibration?: string;
  calibrationCrops: number;
}

function refuseWithoutCalibration(): void {
  say('lookalike: --precision int8 needs --calibration <folder of face photos> (their faces set the int8 ranges)');
  process.exitCode = 2;
}

function isFolder(folder: string): boolean {
  try {
    return statSync(folder).isDirectory();
  } catch {
    return false;
  }
}

function refuseMissingFolder(folder: string): void {
  say(`lookalike: No such folder: ${folder}`);
  process.exitCode = 1;
}
