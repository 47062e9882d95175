import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.ts';
import { NODE_FLAGS } from '../../src/nodeFlags.ts';

// The command line the way a user runs it: the built bin in a child process (`npm test` builds first),
// with the Node flags its first line gives.

const run = promisify(execFile);
export const lookalikeBin = path.join(repoRoot, 'bin', 'lookalike.js');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export async function lookalike(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...NODE_FLAGS, lookalikeBin, ...args], {
      env: { ...process.env, LOOKALIKE_DEVICE: 'cpu', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A TypeScript file run by node with tsx, as a child process; the signal says how it died, if it did. */
export async function runScript(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran & { signal?: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file, ...args], {
      env: { ...process.env, LOOKALIKE_DEVICE: 'cpu', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; signal?: string; stdout: string; stderr: string };
    return { code: e.code, ...(e.signal ? { signal: e.signal } : {}), stdout: e.stdout, stderr: e.stderr };
  }
}
