import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { aptInstall, freePort } from './localServer.ts';

// A throwaway PostgreSQL cluster for one test run: its own data dir and socket dir under the system
// temp dir, listening only on 127.0.0.1 on a free port, password-protected, removed when stopped.
// initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` system user.

const run = promisify(execFile);
const PREFERRED_MAJOR = '15';
const PG_ROOT = '/usr/lib/postgresql';

export type PostgresBinaries = { binDir: string } | { skip: string };

export interface PostgresServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  /** A new, empty database on this server; returns its URL. */
  freshDatabase(): Promise<string>;
  /** Stops the server and deletes its files. Safe to call twice. */
  stop(): Promise<void>;
}

function findBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT)
    .filter((v) => existsSync(path.join(PG_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  const major = majors.includes(PREFERRED_MAJOR) ? PREFERRED_MAJOR : majors[0];
  return major === undefined ? undefined : path.join(PG_ROOT, major, 'bin');
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Finds the PostgreSQL server binaries. When they are missing, installs Debian's `postgresql` package,
 * but only as root in CI (CI=true); anywhere else the caller gets a reason to skip.
 */
export function postgresBinaries(): PostgresBinaries {
  const found = findBinDir();
  if (found) return { binDir: found };
  if (!(isRoot() && process.env.CI === 'true')) {
    return { skip: `PostgreSQL server binaries not found under ${PG_ROOT}/*/bin (install Debian's postgresql package); PostgreSQL tests skipped` };
  }
  aptInstall('postgresql');
  const installed = findBinDir();
  return installed ? { binDir: installed } : { skip: 'apt-get install postgresql failed; PostgreSQL tests skipped' };
}


function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => {
    const out = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error('running as root but there is no `postgres` system user to run initdb as');
    return Number(out.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

/** Starts a cluster with the binaries from postgresBinaries(). */
export async function startPostgres(binDir: string): Promise<PostgresServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lookalike-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const pwFile = path.join(dir, 'pwfile');
  const password = randomBytes(12).toString('hex');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });

  const asRoot = isRoot();
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
    chownSync(pwFile, uid, gid);
  }
  // cwd: the temp dir, which the postgres user can enter (the checkout may not be).
  const pgTool = (tool: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(binDir, tool), ...args], { cwd: dir })
      : run(path.join(binDir, tool), args, { cwd: dir });

  let running = false;
  const stopSync = () => {
    if (running) {
      const stopArgs = ['-D', dataDir, '-m', 'fast', '-w', 'stop'];
      if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', path.join(binDir, 'pg_ctl'), ...stopArgs], { cwd: dir });
      else spawnSync(path.join(binDir, 'pg_ctl'), stopArgs, { cwd: dir });
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies before its after() hook must not leave a server behind.
  process.once('exit', stopSync);

  try {
    await pgTool('initdb', [
      '-D', dataDir, '-U', 'postgres', '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync',
    ]);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      // Durability settings off: the cluster is deleted after the run.
      const serverOptions = [
        `-p ${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dir}`,
        '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=20', '-c shared_buffers=16MB',
      ].join(' ');
      try {
        await pgTool('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
        running = true;
        break;
      } catch (err) {
        // Another process may have taken the port between freePort() and the bind.
        if (attempt >= 3) throw err;
      }
    }
    const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    let databases = 0;
    return {
      url,
      async freshDatabase() {
        const name = `test_${++databases}`;
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        try {
          await admin.query(`create database ${name}`);
        } finally {
          await admin.end();
        }
        return url.replace(/\/postgres$/, `/${name}`);
      },
      async stop() {
        process.removeListener('exit', stopSync);
        stopSync();
      },
    };
  } catch (err) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    process.removeListener('exit', stopSync);
    stopSync();
    throw new Error(`could not start a throwaway PostgreSQL server: ${(err as Error).message}\n${log}`, { cause: err });
  }
}
