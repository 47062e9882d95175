import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './paths.ts';
import { NODE_FLAGS } from '../../src/nodeFlags.ts';

// `lookalike` services (bots, workers) as the operator runs them: each its own process, logs (pino JSON
// on stderr) kept so that a test can wait for a line and read fields from it.

export interface Service {
  readonly child: ChildProcess;
  readonly name: string;
  /** Every log line so far, parsed (lines that are not JSON are kept as { msg }). */
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  /** The first log line (so far or to come) whose msg is `msg` and that passes `match`. */
  waitForLine(msg: string, opts?: { timeoutMs?: number; match?: (line: Record<string, unknown>) => boolean }): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if it has not exited after graceMs. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startService(name: string, args: string[], env: Record<string, string>): Service {
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join(repoRoot, 'bin', 'lookalike.js'), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOOKALIKE_DEVICE: 'cpu', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let text = '';
  let partial = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    text = (text + String(chunk)).slice(-200_000);
    partial += String(chunk);
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
    }
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const service: Service = {
    child,
    name,
    lines,
    stderr: () => text,
    waitForLine(msg, opts = {}) {
      const match = opts.match ?? (() => true);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => l.msg === msg && match(l));
          if (!found) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no "${msg}" log line within ${opts.timeoutMs ?? 120_000} ms:\n${text.slice(-4000)}`));
        }, opts.timeoutMs ?? 120_000);
        const onExit = () => {
          if (check()) return;
          cleanup();
          reject(new Error(`${name} exited before logging "${msg}":\n${text.slice(-4000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(listener);
          child.off('exit', onExit);
        };
        const listener = () => void check();
        if (check()) return;
        listeners.add(listener);
        child.once('exit', onExit);
      });
    },
    exited,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
  return service;
}

/** Scrapes a /metrics endpoint on loopback and returns each sample's value by its full name with labels. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`metrics: HTTP ${res.status}`);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    samples.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function sumOf(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const labelText = brace < 0 ? '' : key.slice(brace);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}
