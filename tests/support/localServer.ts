import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

// What the tests' own throwaway servers (PostgreSQL, Redis) need: a free loopback port, and their
// Debian package installed when CI runs as root on an image without it.

/** A port free on 127.0.0.1 just now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** apt-get install of one Debian package, the package lists updated first when that fails (a fresh CI image may have none). */
export function aptInstall(pkg: string): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env, stdio: ['ignore', 2, 2] });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 2, 2] });
    install();
  }
}
