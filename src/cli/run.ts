import { randomUUID } from 'node:crypto';
import { ConfigError, ModelLoadError } from '../core/errors.ts';
import { logger, redactSecrets } from '../log.ts';

const log = logger('cli');

/** One line on stderr for the person at the terminal; the process exit code says the rest. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Runs a command with the CLI's error policy: set-up problems (ConfigError, ModelLoadError) as one clear line,
 * anything else logged once with an id, and never a stack trace on the terminal.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    // Set-up problems (a variable, a model not converted yet) carry their own fix in the message.
    if (err instanceof ConfigError || err instanceof ModelLoadError) {
      say(`lookalike: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    const id = randomUUID().slice(0, 8);
    log.error({ err, errorId: id }, 'unexpected error');
    say(`lookalike: internal error (id ${id}): ${redactSecrets(err instanceof Error ? err.message : String(err))}`);
    process.exitCode = 70;
  }
}
