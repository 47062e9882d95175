#!/usr/bin/env node
// The `lookalike` command. The TypeScript sources are compiled to dist/ by `npm run build` (part of setup).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('lookalike: not built yet. Run `npm run setup` (or `npm run build`) in the project folder first.\n');
  process.exit(2);
}
// Command-line jobs talk to a person: keep the log to warnings unless asked. The bots log at info.
if (process.argv[2] !== 'bot') process.env.LOG_LEVEL ??= 'warn';
await import(entry.href);
