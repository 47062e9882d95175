import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { logger } from '../log.ts';
import { migrationsDir } from './migrations.ts';
import {
  checkCompareWith, checkRecord, checkUser, leaderboardQuery, listLimit, newerNameWins, toCelebrityCounts, toLeaderboard, topCelebritiesQuery,
} from './queries.ts';
import * as schema from './schema.sqlite.ts';
import type { Store } from './types.ts';

const log = logger('db');
const { matchResults, users } = schema;

type Db = BetterSQLite3Database<typeof schema>;

/** Opens (creating if needed) the SQLite file and brings its schema up to date. */
export function openSqliteStore(file: string): Store {
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file);
  try {
    // WAL: the Telegram and Discord bots may share the file; readers then never block the writer.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const db: Db = drizzle(sqlite, { schema });
    applyMigrations(db);
    log.info({ dialect: 'sqlite', file }, 'store opened');
    return new SqliteStore(sqlite, db);
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

function applyMigrations(db: Db): void {
  const config = { migrationsFolder: migrationsDir('sqlite') };
  try {
    migrate(db, config);
  } catch (err) {
    // Two bots starting on a fresh file both see "no migrations yet"; the second then fails on the
    // tables the first just created. Looking again finds them recorded and has nothing left to do.
    log.warn({ err }, 'migration failed, retrying once in case another process applied it');
    migrate(db, config);
  }
}

class SqliteStore implements Store {
  #closed = false;

  constructor(
    private readonly sqlite: Database.Database,
    private readonly db: Db,
  ) {}

  async recordResult(record: Parameters<Store['recordResult']>[0]): Promise<void> {
    const r = checkRecord(record);
    this.db.transaction((tx) => {
      tx.insert(users)
        .values({ platform: r.platform, userId: r.userId, displayName: r.displayName, displayNameAt: r.createdAt })
        .onConflictDoUpdate({
          target: [users.platform, users.userId],
          set: { displayName: sql`excluded.display_name`, displayNameAt: sql`excluded.display_name_at` },
          setWhere: newerNameWins(users),
        })
        .run();
      tx.insert(matchResults)
        .values({
          platform: r.platform, chatId: r.chatId, userId: r.userId,
          celebrity: r.celebrity, similarity: r.similarity, createdAt: r.createdAt,
        })
        .run();
    });
  }

  async leaderboard(...[platform, chatId, opts]: Parameters<Store['leaderboard']>) {
    const rows = this.db.all<Record<string, unknown>>(leaderboardQuery(schema, platform, chatId, listLimit(opts)));
    return toLeaderboard(rows);
  }

  async topCelebrities(...[platform, chatId, opts]: Parameters<Store['topCelebrities']>) {
    const rows = this.db.all<Record<string, unknown>>(topCelebritiesQuery(schema, platform, chatId, listLimit(opts)));
    return toCelebrityCounts(rows);
  }

  async setHidden(...[platform, userId, hidden]: Parameters<Store['setHidden']>): Promise<void> {
    checkUser(platform, userId);
    this.db.insert(users)
      .values({ platform, userId, hidden })
      .onConflictDoUpdate({ target: [users.platform, users.userId], set: { hidden } })
      .run();
  }

  async isHidden(...[platform, userId]: Parameters<Store['isHidden']>): Promise<boolean> {
    checkUser(platform, userId);
    const row = this.db.select({ hidden: users.hidden }).from(users)
      .where(and(eq(users.platform, platform), eq(users.userId, userId)))
      .get();
    return row?.hidden ?? false;
  }

  async compareWith(...[platform, userId]: Parameters<Store['compareWith']>) {
    checkUser(platform, userId);
    const row = this.db.select({ compareWith: users.compareWith }).from(users)
      .where(and(eq(users.platform, platform), eq(users.userId, userId)))
      .get();
    return row?.compareWith ?? 'everyone';
  }

  async setCompareWith(...[platform, userId, compareWith]: Parameters<Store['setCompareWith']>): Promise<void> {
    checkUser(platform, userId);
    checkCompareWith(compareWith);
    this.db.insert(users)
      .values({ platform, userId, compareWith })
      .onConflictDoUpdate({ target: [users.platform, users.userId], set: { compareWith } })
      .run();
  }

  async forgetUser(...[platform, userId]: Parameters<Store['forgetUser']>) {
    checkUser(platform, userId);
    return this.db.transaction((tx) => {
      // Results go explicitly (not only by the cascade) so their count can be reported.
      const results = tx.delete(matchResults)
        .where(and(eq(matchResults.platform, platform), eq(matchResults.userId, userId)))
        .run();
      tx.delete(users).where(and(eq(users.platform, platform), eq(users.userId, userId))).run();
      return { deletedResults: results.changes };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.sqlite.close();
  }
}
