import { pino, type Logger } from 'pino';

// One root logger for the process; modules take a child so every line says where it came from.
// Logs go to stderr so that `--json` output on stdout stays machine-readable.
//
// Errors are logged as a whitelist of fields, never whole: telegraf's TelegramError carries the request
// payload (a reply picture's bytes), discord.js's DiscordAPIError the request's files and a URL holding
// the interaction token. Whatever error object reaches a log line under `err` (or `error`, `cause`)
// comes out as the fields below, with tokens and signed URL parameters cut out of its text.

/** Fields kept from an error; everything else on the object is dropped. */
export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  /** Error code: a Node errno name, telegraf's error_code, discord.js's API code. */
  code?: string | number;
  /** HTTP status (discord.js, download errors). */
  status?: number;
  /** The API method (telegraf) or HTTP method (discord.js) of the failed request. */
  method?: string;
  /** The Bot API's description of the failure. */
  description?: string;
  retryAfter?: number;
  /** The request's path with any token replaced (discord.js). */
  path?: string;
  cause?: LoggedError;
}

const MAX_TEXT = 2000;

/**
 * Removes what must not reach a log from free text: bot tokens (Telegram, Discord), interaction and
 * webhook tokens in URL paths, and query strings (signed attachment URLs grant access to a user's photo).
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b\d{5,}:[A-Za-z0-9_-]{20,}/g, '[token]')
    .replace(/\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{20,}\b/g, '[token]')
    .replace(/\/(webhooks|interactions)\/(\d+)\/[^/?#\s"']+/g, '/$1/$2/[token]')
    .replace(/(https?:\/\/[^\s?#"']+)\?[^\s#"']*/g, '$1?[query]');
}

function text(value: unknown, max = MAX_TEXT): string {
  const s = redactSecrets(String(value));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function field<T>(obj: Record<string, unknown>, key: string, type: 'string' | 'number'): T | undefined {
  let value: unknown;
  try {
    value = obj[key];
  } catch {
    return undefined;
  }
  return typeof value === type ? (value as T) : undefined;
}

/** The whitelisted fields of an error (or of anything thrown), safe to log. */
export function errorFields(err: unknown, depth = 0): LoggedError {
  if (!(err instanceof Error)) {
    return { type: err === null ? 'null' : typeof err, message: text(typeof err === 'object' ? '[object]' : err, 500) };
  }
  const e = err as unknown as Record<string, unknown>;
  const out: LoggedError = { type: text(err.name || err.constructor?.name || 'Error', 100), message: text(err.message) };
  if (typeof err.stack === 'string') out.stack = text(err.stack, 4000);
  const code = e.code;
  if (typeof code === 'string' || typeof code === 'number') out.code = typeof code === 'string' ? text(code, 100) : code;
  const status = field<number>(e, 'status', 'number');
  if (status !== undefined) out.status = status;
  // telegraf: the method sits in `on` beside the payload; only the method is taken.
  const on = e.on;
  const method = field<string>(e, 'method', 'string') ?? (on && typeof on === 'object' ? field<string>(on as Record<string, unknown>, 'method', 'string') : undefined);
  if (method !== undefined) out.method = text(method, 100);
  const description = field<string>(e, 'description', 'string');
  if (description !== undefined) out.description = text(description, 500);
  const parameters = e.parameters;
  const retryAfter = parameters && typeof parameters === 'object' ? field<number>(parameters as Record<string, unknown>, 'retry_after', 'number') : undefined;
  if (retryAfter !== undefined) out.retryAfter = retryAfter;
  const url = field<string>(e, 'url', 'string');
  if (url !== undefined) {
    try {
      out.path = text(new URL(url).pathname, 300);
    } catch {
      out.path = '[unparsable url]';
    }
  }
  if (err.cause !== undefined && depth < 3) out.cause = errorFields(err.cause, depth + 1);
  return out;
}

const root: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: undefined,
    serializers: { err: (err: unknown) => errorFields(err), error: (err: unknown) => errorFields(err), cause: (err: unknown) => errorFields(err) },
    redact: { paths: ['token', '*.token', 'config.telegramToken', 'config.discordToken'], censor: '[secret]' },
  },
  pino.destination({ fd: 2, sync: true }),
);

export function logger(module: string): Logger {
  return root.child({ module });
}

export type { Logger };
