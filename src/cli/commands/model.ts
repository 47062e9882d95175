import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { convertBlazeFace } from '../../jobs/convertBlazeFace.ts';
import { convertFaceRecognitionNet } from '../../jobs/convertFaceRecognitionNet.ts';
import { convertVggFace } from '../../jobs/convertVggFace.ts';
import { KerasWeightsError } from '../../jobs/kerasWeights.ts';
import { say } from '../run.ts';

export function registerModelCommands(program: Command, config: Config): void {
  const model = program.command('model').description('convert face models into ONNX files under models/');

  model
    .command('convert-default')
    .description("install the default models: face-api.js's FaceRecognitionNet (npm package @vladmandic/face-api) converted to ONNX, and the BlazeFace face detector")
    .action(async () => {
      const converted = await convertFaceRecognitionNet({ modelsDir: config.modelsDir });
      say(`Wrote ${converted.file}`);
      const detector = await convertBlazeFace({ modelsDir: config.modelsDir });
      say(`Wrote ${detector.file}`);
    });

  model
    .command('convert-vggface <file.h5>')
    .description("convert VGG-Face's Keras weights (vgg_face_weights.h5, downloaded by you) to ONNX for --model vggface")
    .action(async (file: string) => {
      try {
        const converted = await convertVggFace({ file, modelsDir: config.modelsDir });
        say(`Wrote ${converted.file} (${(converted.bytes / 2 ** 20).toFixed(0)} MB, ${converted.parameters.toLocaleString('en')} weights).`);
      } catch (err) {
        // A file that is not VGG-Face is the user's to fix: one clear line, no stack trace.
        if (!(err instanceof KerasWeightsError)) throw err;
        say(`lookalike: ${err.message}`);
        process.exitCode = 1;
      }
    });
}
