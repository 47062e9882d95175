import type { Config } from 'drizzle-kit';

// drizzle-kit config for the PostgreSQL store. After changing schema.pg.ts, from the repo root:
//   npx drizzle-kit generate --config src/db/drizzle.pg.config.ts
// and commit the new files under src/db/migrations/pg. The store applies them at start-up;
// `generate` needs no database, so no credentials are configured here.
// Type-only import: nothing from drizzle-kit (a dev dependency) ends up in the built output.
export default {
  dialect: 'postgresql',
  schema: './src/db/schema.pg.ts',
  out: './src/db/migrations/pg',
} satisfies Config;
