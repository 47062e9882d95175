import type { Config } from 'drizzle-kit';

// drizzle-kit config for the embedded SQLite store. After changing schema.sqlite.ts, from the repo root:
//   npx drizzle-kit generate --config src/db/drizzle.sqlite.config.ts
// and commit the new files under src/db/migrations/sqlite. The store applies them at start-up.
// Type-only import: nothing from drizzle-kit (a dev dependency) ends up in the built output.
export default {
  dialect: 'sqlite',
  schema: './src/db/schema.sqlite.ts',
  out: './src/db/migrations/sqlite',
} satisfies Config;
