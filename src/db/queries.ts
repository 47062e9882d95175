import { sql, type SQL } from 'drizzle-orm';
import type * as pgSchema from './schema.pg.ts';
import type * as sqliteSchema from './schema.sqlite.ts';
import { isCompareWith, isPlatform, type CompareWith, type Platform } from './platform.ts';
import type { CelebrityCount, LeaderboardEntry, ListOptions, ResultRecord } from './types.ts';

// The read queries, written once for both dialects and both bots. Both schemas use the same
// table and column names, so the same SQL text runs on SQLite and PostgreSQL.

type Tables = {
  matchResults: typeof sqliteSchema.matchResults | typeof pgSchema.matchResults;
  users: typeof sqliteSchema.users | typeof pgSchema.users;
};

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

export function listLimit(opts?: ListOptions): number {
  const limit = opts?.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return Math.min(limit, MAX_LIMIT);
}

/**
 * Each visible member of the chat once, with their best result (highest similarity, earliest on ties),
 * ordered the same way. One pass over the chat's rows, which match_results_leaderboard_idx serves in order.
 */
export function leaderboardQuery(t: Tables, platform: Platform, chatId: string, limit: number): SQL {
  const r = t.matchResults;
  const u = t.users;
  return sql`
    select user_id, display_name, celebrity, similarity
    from (
      select ${r.userId} as user_id, ${u.displayName} as display_name, ${r.celebrity} as celebrity,
             ${r.similarity} as similarity, ${r.createdAt} as created_at, ${r.id} as id,
             row_number() over (partition by ${r.userId} order by ${r.similarity} desc, ${r.createdAt}, ${r.id}) as nth
      from ${r}
      join ${u} on ${u.platform} = ${r.platform} and ${u.userId} = ${r.userId}
      where ${r.platform} = ${platform} and ${r.chatId} = ${chatId} and not ${u.hidden}
    ) best
    where nth = 1
    order by similarity desc, created_at, id
    limit ${limit}`;
}

export function topCelebritiesQuery(t: Tables, platform: Platform, chatId: string, limit: number): SQL {
  const r = t.matchResults;
  const u = t.users;
  return sql`
    select ${r.celebrity} as celebrity, count(*) as count
    from ${r}
    join ${u} on ${u.platform} = ${r.platform} and ${u.userId} = ${r.userId}
    where ${r.platform} = ${platform} and ${r.chatId} = ${chatId} and not ${u.hidden}
    group by ${r.celebrity}
    order by count(*) desc, ${r.celebrity}
    limit ${limit}`;
}

/** Rows as either driver returns them (PostgreSQL's count(*) is a bigint and arrives as a string). */
export function toLeaderboard(rows: readonly Record<string, unknown>[]): LeaderboardEntry[] {
  return rows.map((row, i) => ({
    rank: i + 1,
    userId: String(row.user_id),
    displayName: String(row.display_name ?? ''),
    celebrity: String(row.celebrity),
    similarity: Number(row.similarity),
  }));
}

export function toCelebrityCounts(rows: readonly Record<string, unknown>[]): CelebrityCount[] {
  return rows.map((row) => ({ celebrity: String(row.celebrity), count: Number(row.count) }));
}

/** A record that breaks these rules is a bug in the caller, not bad user input: it throws. */
export function checkRecord(r: ResultRecord): Required<ResultRecord> {
  if (!isPlatform(r.platform)) throw new TypeError(`unknown platform ${JSON.stringify(r.platform)}`);
  for (const key of ['chatId', 'userId', 'celebrity'] as const) {
    if (typeof r[key] !== 'string' || r[key] === '') throw new TypeError(`${key} must be a non-empty string`);
  }
  if (typeof r.displayName !== 'string') throw new TypeError('displayName must be a string');
  if (!Number.isFinite(r.similarity) || r.similarity < 0 || r.similarity > 100) {
    throw new RangeError(`similarity must be within 0..100, got ${r.similarity}`);
  }
  const createdAt = r.createdAt ?? new Date();
  if (Number.isNaN(createdAt.getTime())) throw new RangeError('createdAt is not a valid date');
  return { ...r, createdAt };
}

export function checkUser(platform: Platform, userId: string): void {
  if (!isPlatform(platform)) throw new TypeError(`unknown platform ${JSON.stringify(platform)}`);
  if (typeof userId !== 'string' || userId === '') throw new TypeError('userId must be a non-empty string');
}

/** The newer of two names wins; a record stamped earlier than the stored name does not replace it. */
export function newerNameWins(users: Tables['users']): SQL {
  return sql`${users.displayNameAt} is null or ${users.displayNameAt} <= excluded.display_name_at`;
}

export function checkCompareWith(value: CompareWith): void {
  if (!isCompareWith(value)) throw new TypeError(`compareWith must be everyone, female or male, got ${JSON.stringify(value)}`);
}
