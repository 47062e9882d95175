import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { COMPARE_WITH, PLATFORMS } from './platform.ts';

// SQLite twin of schema.pg.ts: same tables, columns, keys and indexes; change both together and
// regenerate both migration folders (see drizzle.sqlite.config.ts).
// Privacy: no photo, crop or face descriptor is ever stored, only the outcome of a match.

/** One row per chat user known to the bot: latest display name, the leaderboard opt-out and their settings. */
export const users = sqliteTable(
  'users',
  {
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    // Telegram ids exceed 32 bits and Discord snowflakes exceed 53: ids are strings.
    userId: text('user_id').notNull(),
    // Null until the user's first result (setHidden may come first).
    displayName: text('display_name'),
    // When the stored display name was seen, so a late, older record cannot overwrite a newer name.
    displayNameAt: integer('display_name_at', { mode: 'timestamp_ms' }),
    hidden: integer('hidden', { mode: 'boolean' }).notNull().default(false),
    // Whom they are compared with (/settings); removed with the row by /forget. No CHECK here, unlike
    // PostgreSQL: drizzle-kit adds a SQLite check by rebuilding the table, whose DROP would cascade to
    // match_results; the store checks the value before writing it.
    compareWith: text('compare_with', { enum: COMPARE_WITH }).notNull().default('everyone'),
  },
  (t) => [
    primaryKey({ name: 'users_pk', columns: [t.platform, t.userId] }),
    check('users_platform_check', sql`${t.platform} in ('telegram', 'discord')`),
  ],
);

/** One row per face matched in a chat (Telegram chat or Discord guild). */
export const matchResults = sqliteTable(
  'match_results',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    chatId: text('chat_id').notNull(),
    userId: text('user_id').notNull(),
    celebrity: text('celebrity').notNull(),
    similarity: real('similarity').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    foreignKey({ name: 'match_results_user_fk', columns: [t.platform, t.userId], foreignColumns: [users.platform, users.userId] }).onDelete('cascade'),
    check('match_results_similarity_check', sql`${t.similarity} >= 0 and ${t.similarity} <= 100`),
    // Leaderboard: rows of one chat, grouped by user, best similarity first, earliest first on ties.
    index('match_results_leaderboard_idx').on(t.platform, t.chatId, t.userId, sql`${t.similarity} desc`, t.createdAt),
    // forgetUser and the foreign key's cascade: every row of one user, all chats.
    index('match_results_user_idx').on(t.platform, t.userId),
  ],
);
