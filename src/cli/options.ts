import { InvalidArgumentError, Option, type Command } from 'commander';
import { DETECTORS } from '../core/detect/detector.ts';
import { PRECISIONS } from '../core/models/embedder.ts';
import { modelNames } from '../core/models/registry.ts';

export const modelOption = () => new Option('--model <name>', `face model: ${modelNames().join(', ')}`);

export const detectorOption = () =>
  new Option('--detector <name>', 'face detector: blazeface (a CNN with keypoints, faces aligned by them) or haar (the original Haar cascade)').choices(DETECTORS);

export const precisionOption = () =>
  new Option('--precision <kind>', "the model's arithmetic: fp32, or int8 (after `model convert-default --precision int8` or `model convert-vggface --precision int8`)").choices(PRECISIONS);

/** The data directory, from --data on the root command (which also reads LOOKALIKE_DATA_DIR). */
export function dataDirOf(command: Command): string {
  return command.optsWithGlobals<{ data: string }>().data;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
