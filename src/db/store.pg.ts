import { and, eq, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { logger } from '../log.ts';
import { migrationsDir } from './migrations.ts';
import {
  checkCompareWith, checkRecord, checkUser, leaderboardQuery, listLimit, newerNameWins, toCelebrityCounts, toLeaderboard, topCelebritiesQuery,
} from './queries.ts';
import * as schema from './schema.pg.ts';
import type { Store } from './types.ts';

const log = logger('db');
const { matchResults, users } = schema;

// Serialises migrations when both bots start at once against the same database.
const MIGRATION_LOCK_KEY = 0x6c6f6f6b; // "look"

type Db = NodePgDatabase<typeof schema>;

/** Connects to PostgreSQL and brings its schema up to date. The URL is never logged (it may hold a password). */
export async function openPgStore(databaseUrl: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // Without a listener an idle client's lost connection would crash the process.
  pool.on('error', (err) => log.error({ err }, 'idle PostgreSQL connection failed'));
  try {
    await applyMigrations(pool);
    log.info({ dialect: 'postgres' }, 'store opened');
    return new PgStore(pool, drizzle(pool, { schema }));
  } catch (err) {
    await pool.end();
    throw err;
  }
}

async function applyMigrations(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrate(drizzle(client, { schema }), { migrationsFolder: migrationsDir('pg') });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

class PgStore implements Store {
  #closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly db: Db,
  ) {}

  async recordResult(record: Parameters<Store['recordResult']>[0]): Promise<void> {
    const r = checkRecord(record);
    await this.db.transaction(async (tx) => {
      await tx.insert(users)
        .values({ platform: r.platform, userId: r.userId, displayName: r.displayName, displayNameAt: r.createdAt })
        .onConflictDoUpdate({
          target: [users.platform, users.userId],
          set: { displayName: sql`excluded.display_name`, displayNameAt: sql`excluded.display_name_at` },
          setWhere: newerNameWins(users),
        });
      await tx.insert(matchResults).values({
        platform: r.platform, chatId: r.chatId, userId: r.userId,
        celebrity: r.celebrity, similarity: r.similarity, createdAt: r.createdAt,
      });
    });
  }

  async leaderboard(...[platform, chatId, opts]: Parameters<Store['leaderboard']>) {
    const result = await this.db.execute(leaderboardQuery(schema, platform, chatId, listLimit(opts)));
    return toLeaderboard(result.rows);
  }

  async topCelebrities(...[platform, chatId, opts]: Parameters<Store['topCelebrities']>) {
    const result = await this.db.execute(topCelebritiesQuery(schema, platform, chatId, listLimit(opts)));
    return toCelebrityCounts(result.rows);
  }

  async setHidden(...[platform, userId, hidden]: Parameters<Store['setHidden']>): Promise<void> {
    checkUser(platform, userId);
    await this.db.insert(users)
      .values({ platform, userId, hidden })
      .onConflictDoUpdate({ target: [users.platform, users.userId], set: { hidden } });
  }

  async isHidden(...[platform, userId]: Parameters<Store['isHidden']>): Promise<boolean> {
    checkUser(platform, userId);
    const [row] = await this.db.select({ hidden: users.hidden }).from(users)
      .where(and(eq(users.platform, platform), eq(users.userId, userId)));
    return row?.hidden ?? false;
  }

  async compareWith(...[platform, userId]: Parameters<Store['compareWith']>) {
    checkUser(platform, userId);
    const [row] = await this.db.select({ compareWith: users.compareWith }).from(users)
      .where(and(eq(users.platform, platform), eq(users.userId, userId)));
    return row?.compareWith ?? 'everyone';
  }

  async setCompareWith(...[platform, userId, compareWith]: Parameters<Store['setCompareWith']>): Promise<void> {
    checkUser(platform, userId);
    checkCompareWith(compareWith);
    await this.db.insert(users)
      .values({ platform, userId, compareWith })
      .onConflictDoUpdate({ target: [users.platform, users.userId], set: { compareWith } });
  }

  async forgetUser(...[platform, userId]: Parameters<Store['forgetUser']>) {
    checkUser(platform, userId);
    return this.db.transaction(async (tx) => {
      // Results go explicitly (not only by the cascade) so their count can be reported.
      const results = await tx.delete(matchResults)
        .where(and(eq(matchResults.platform, platform), eq(matchResults.userId, userId)));
      await tx.delete(users).where(and(eq(users.platform, platform), eq(users.userId, userId)));
      return { deletedResults: results.rowCount ?? 0 };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}
