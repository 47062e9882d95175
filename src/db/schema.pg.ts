import { sql } from 'drizzle-orm';
import { bigint, boolean, check, doublePrecision, foreignKey, index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { COMPARE_WITH, PLATFORMS } from './platform.ts';

// PostgreSQL twin of schema.sqlite.ts: same tables, columns, keys and indexes; change both together
// and regenerate both migration folders (see drizzle.pg.config.ts).
// Privacy: no photo, crop or face descriptor is ever stored, only the outcome of a match.

/** One row per chat user known to the bot: latest display name, the leaderboard opt-out and their settings. */
export const users = pgTable(
  'users',
  {
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    // Telegram ids exceed 32 bits and Discord snowflakes exceed 53: ids are strings.
    userId: text('user_id').notNull(),
    // Null until the user's first result (setHidden may come first).
    displayName: text('display_name'),
    // When the stored display name was seen, so a late, older record cannot overwrite a newer name.
    displayNameAt: timestamp('display_name_at', { withTimezone: true, mode: 'date' }),
    hidden: boolean('hidden').notNull().default(false),
    // Whom they are compared with (/settings); removed with the row by /forget.
    compareWith: text('compare_with', { enum: COMPARE_WITH }).notNull().default('everyone'),
  },
  (t) => [
    primaryKey({ name: 'users_pk', columns: [t.platform, t.userId] }),
    check('users_platform_check', sql`${t.platform} in ('telegram', 'discord')`),
    check('users_compare_with_check', sql`${t.compareWith} in ('everyone', 'female', 'male')`),
  ],
);

/** One row per face matched in a chat (Telegram chat or Discord guild). */
export const matchResults = pgTable(
  'match_results',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    chatId: text('chat_id').notNull(),
    userId: text('user_id').notNull(),
    celebrity: text('celebrity').notNull(),
    // double precision, not real: SQLite's REAL is 8 bytes too, so both stores return the same number.
    similarity: doublePrecision('similarity').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    foreignKey({ name: 'match_results_user_fk', columns: [t.platform, t.userId], foreignColumns: [users.platform, users.userId] }).onDelete('cascade'),
    check('match_results_similarity_check', sql`${t.similarity} >= 0 and ${t.similarity} <= 100`),
    // Leaderboard: rows of one chat, grouped by user, best similarity first, earliest first on ties.
    index('match_results_leaderboard_idx').on(t.platform, t.chatId, t.userId, t.similarity.desc().nullsFirst(), t.createdAt),
    // forgetUser and the foreign key's cascade: every row of one user, all chats.
    index('match_results_user_idx').on(t.platform, t.userId),
  ],
);
