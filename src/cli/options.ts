import { Option, type Command } from 'commander';
import { DETECTORS } from '../core/detect/detector.ts';
import { modelNames } from '../core/models/registry.ts';

export const modelOption = () => new Option('--model <name>', `face model: ${modelNames().join(', ')}`);

export const detectorOption = () =>
  new Option('--detector <name>', 'face detector: blazeface (a CNN with keypoints, faces aligned by them) or haar (the original Haar cascade)').choices(DETECTORS);

/** The data directory, from --data on the root command (which also reads LOOKALIKE_DATA_DIR). */
export function dataDirOf(command: Command): string {
  return command.optsWithGlobals<{ data: string }>().data;
}
