import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.ts';

// The command line the way a user runs it: the built bin in a child process (`npm test` builds first).

const run = promisify(execFile);
export const lookalikeBin = path.join(repoRoot, 'bin', 'lookalike.js');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export async function lookalike(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [lookalikeBin, ...args], {
      env: { ...process.env, LOOKALIKE_DEVICE: 'cpu', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
