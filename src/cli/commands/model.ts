import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { convertFaceRecognitionNet } from '../../jobs/convertFaceRecognitionNet.ts';
import { say } from '../run.ts';

export function registerModelCommands(program: Command, config: Config): void {
  const model = program.command('model').description('convert face models into ONNX files under models/');

  model
    .command('convert-default')
    .description("convert face-api.js's FaceRecognitionNet weights (npm package @vladmandic/face-api) to ONNX")
    .action(async () => {
      const converted = await convertFaceRecognitionNet({ modelsDir: config.modelsDir });
      say(`Wrote ${converted.file}`);
    });
}
