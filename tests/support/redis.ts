import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { aptInstall, freePort } from './localServer.ts';

// A throwaway Redis for one test file: Debian's redis-server on a free loopback port, no persistence,
// its directory under the system temp dir, stopped (and the directory removed) when the test is done
// or the test process exits.

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  /** A client for the test's own look at the server (closed by stop()). */
  client(): Redis;
  stop(): Promise<void>;
}

/**
 * Why the Redis tests cannot run here, or undefined when they can. As root in CI (CI=true) a missing
 * server is installed from Debian's redis-server package first, as tests/support/postgres.ts does.
 */
export function redisSkipReason(): string | undefined {
  if (existsSync(REDIS_SERVER)) return undefined;
  if (process.getuid?.() === 0 && process.env.CI === 'true') {
    aptInstall('redis-server');
    if (existsSync(REDIS_SERVER)) return undefined;
  }
  return `${REDIS_SERVER} not found (install Debian's redis-server package: npm run setup); Redis tests skipped`;
}


export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lookalike-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  const clients: Redis[] = [];
  const killNow = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killNow);
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const ready = await waitForPing(port, child);
    if (ready) break;
    child.kill('SIGKILL');
    if (attempt >= 3) {
      killNow();
      throw new Error(`could not start a throwaway redis-server: ${output.slice(-1000)}`);
    }
  }
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    client() {
      const c = new Redis(url, { maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      const proc = child!;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
