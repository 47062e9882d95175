import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Migrations are generated into src/db/migrations/<dialect> and read from there at run time, whether the
// code runs from src/ (tsx) or from dist/ (tsc does not copy .sql files): both are two levels below the root.
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function migrationsDir(dialect: 'sqlite' | 'pg'): string {
  return path.join(projectRoot, 'src', 'db', 'migrations', dialect);
}
