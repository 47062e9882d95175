import { readFileSync } from 'node:fs';
import os from 'node:os';
import { NODE_FLAGS } from '../src/nodeFlags.ts';

// Small helpers shared by the benchmarks.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function timeMs<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t = performance.now();
  const value = await fn();
  return [performance.now() - t, value];
}

// Deterministic pseudo-random numbers so runs compare: the same generator the tests use.
export { rng } from '../tests/support/vggFace.ts';

/** The SIMD features inference kernels pick from, as /proc/cpuinfo lists them (empty elsewhere). */
export function cpuFlags(): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return [];
  }
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  const named: [string, string][] = [
    ['avx2', 'AVX2'],
    ['fma', 'FMA'],
    ['avx512f', 'AVX-512'],
    ['avx512_vnni', 'AVX-512 VNNI'],
    ['avx_vnni', 'AVX-VNNI'],
    ['avx512_bf16', 'AVX-512 BF16'],
    ['amx_int8', 'AMX-INT8'],
  ];
  return named.filter(([flag]) => flags.has(flag)).map(([, name]) => name);
}

/** One line naming the machine a figure was measured on: CPU, cores, SIMD flags, memory and the load right now. */
export function machine(): string {
  const flags = cpuFlags();
  return (
    `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} x${os.availableParallelism()}` +
    `${flags.length ? ` (${flags.join(', ')})` : ''}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadNow()}, ${nodeFlagsNote()}`
  );
}

/** Whether this process runs with the Node flags `lookalike` ships with (src/nodeFlags.ts), as figures should. */
function nodeFlagsNote(): string {
  const missing = NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  return missing.length === 0 ? `node ${NODE_FLAGS.join(' ')} (as shipped)` : `WITHOUT the shipped node flags ${missing.join(' ')}`;
}

/** The 1-minute load average, as every figure prints it. */
export function loadNow(): string {
  return os.loadavg()[0]!.toFixed(1);
}

/** p-th percentile (0..100) by nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** CPU milliseconds (every thread of the process) that fn took, and its wall milliseconds. */
export async function cpuMs<T>(fn: () => Promise<T> | T): Promise<{ cpu: number; wall: number; value: T }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const used = process.cpuUsage(c);
  return { cpu: (used.user + used.system) / 1000, wall: performance.now() - t, value };
}
