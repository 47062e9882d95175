import path from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { openSqliteStore } from './store.sqlite.ts';
import type { Store } from './types.ts';

// The one entry point the bots use. SQLite in the data dir unless DATABASE_URL names a PostgreSQL server.

export type { CelebrityCount, LeaderboardEntry, ListOptions, Platform, ResultRecord, Store } from './types.ts';
export { PLATFORMS, isPlatform } from './platform.ts';

export const SQLITE_FILE_NAME = 'lookalike.sqlite';

export interface OpenStoreOptions {
  dataDir: string;
  /** DATABASE_URL: empty or absent for SQLite, postgres:// or postgresql:// for PostgreSQL. */
  databaseUrl?: string;
}

export type DatabaseDialect = 'sqlite' | 'postgres';

/**
 * Which store DATABASE_URL asks for. Throws ConfigError for anything else; the message names the
 * variable but never echoes its value, which may carry a password.
 */
export function databaseDialect(databaseUrl: string | undefined): DatabaseDialect {
  const url = databaseUrl?.trim() ?? '';
  if (url === '') return 'sqlite';
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new ConfigError('DATABASE_URL must be empty (embedded SQLite) or a postgres:// or postgresql:// URL');
  }
  if (!URL.canParse(url)) throw new ConfigError('DATABASE_URL is not a valid postgres:// URL');
  return 'postgres';
}

/** Opens the store and applies any pending migrations before returning. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (databaseDialect(opts.databaseUrl) === 'postgres') {
    // node-postgres and its Drizzle driver load only for a PostgreSQL store (about 0.2 s of every start otherwise).
    const { openPgStore } = await import('./store.pg.ts');
    return openPgStore(opts.databaseUrl!.trim());
  }
  return openSqliteStore(path.join(path.resolve(opts.dataDir), SQLITE_FILE_NAME));
}
