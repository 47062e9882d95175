import { Option, type Command } from 'commander';
import { modelNames } from '../core/models/registry.ts';

export const modelOption = () => new Option('--model <name>', `face model: ${modelNames().join(', ')}`);

/** The data directory, from --data on the root command (which also reads LOOKALIKE_DATA_DIR). */
export function dataDirOf(command: Command): string {
  return command.optsWithGlobals<{ data: string }>().data;
}
