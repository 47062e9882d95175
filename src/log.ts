import { pino, type Logger } from 'pino';

// One root logger for the process; modules take a child so every line says where it came from.
// Logs go to stderr so that `--json` output on stdout stays machine-readable.
const root: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: undefined,
    redact: { paths: ['token', '*.token', 'config.telegramToken', 'config.discordToken'], censor: '[secret]' },
  },
  pino.destination({ fd: 2, sync: true }),
);

export function logger(module: string): Logger {
  return root.child({ module });
}

export type { Logger };
