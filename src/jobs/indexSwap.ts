import { existsSync, renameSync, rmSync } from 'node:fs';

/**
 * Puts a finished index in place of the old one: two renames, so the old index is replaced only once
 * the new one is complete, and a reader never sees half of either.
 */
export function swapInto(building: string, target: string): void {
  const old = `${target}.old-${process.pid}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(building, target);
  rmSync(old, { recursive: true, force: true });
}
