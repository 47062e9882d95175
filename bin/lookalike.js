#!/usr/bin/env -S node --initial-old-space-size=64
// Its Node flags are src/nodeFlags.ts's (why: there); keep the two the same.
// The `lookalike` command. The TypeScript sources are compiled to dist/ by `npm run build` (part of setup).
import { existsSync, readFileSync } from 'node:fs';
import { nodeVersionProblem } from './nodeVersion.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tooOld = nodeVersionProblem(process.versions.node, pkg.engines.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(2);
}

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('lookalike: not built yet. Run `npm run setup` (or `npm run build`) in the project folder first.\n');
  process.exit(2);
}
// Command-line jobs talk to a person: keep the log to warnings unless asked. The bots and workers (services) log at info.
if (process.argv[2] !== 'bot' && process.argv[2] !== 'worker') process.env.LOG_LEVEL ??= 'warn';
await import(entry.href);
