import { randomBytes } from 'node:crypto';
import { ACCEPTED_FORMAT_NAMES } from '../../core/decode.ts';
import type { FailureCode } from '../../core/result.ts';
import type { Logger } from '../../log.ts';
import { DEFAULT_LANGUAGE, translator, type Translate } from './i18n.ts';

// Every way a request can end without a picture, as one short sentence a chat user understands, in
// their language (locales/). Plain text: the platform layer escapes it for its markup.

/** Refusals the bots make themselves, before or around the engine. */
export type BotRefusal = 'unsupported_file' | 'video_not_supported' | 'no_photo' | 'rate_limited' | 'busy' | 'timeout' | 'download_failed';

export type ReplyCode = FailureCode | BotRefusal;

export interface ReplyDetails {
  /** The download limit, when known (Telegram's 20 MB, or an operator's override). */
  maxFileBytes?: number | null;
  retryAfterSec?: number;
  /** Faces found in the photo (no_such_face). */
  faces?: number;
}

// Failures that mean the bot is misconfigured, not that the user did something wrong: the user gets
// the generic apology and the operator a log line.
const OPERATOR_FAILURES: ReadonlySet<FailureCode> = new Set(['no_index', 'empty_index', 'model_mismatch', 'unknown_model', 'missing_file', 'unknown_celebrity', 'bad_metadata']);

export function isOperatorFailure(code: ReplyCode): boolean {
  return OPERATOR_FAILURES.has(code as FailureCode);
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return Number.isInteger(mb) ? `${mb} MB` : `${mb.toFixed(1)} MB`;
}

/** What the decoder reads, listed in the language of `t` ("JPEG, PNG, WebP, GIF, AVIF or TIFF"). */
export function acceptedFormats(t: Translate): string {
  return `${ACCEPTED_FORMAT_NAMES.slice(0, -1).join(', ')} ${t('reply.formats_or')} ${ACCEPTED_FORMAT_NAMES.at(-1)}`;
}

/** The sentence for a reply code, in the language of `t`. */
export function replyText(t: Translate, code: ReplyCode, details: ReplyDetails = {}): string {
  switch (code) {
    case 'not_an_image':
    case 'unsupported_file':
      return t('reply.not_an_image', { formats: acceptedFormats(t) });
    case 'file_too_large':
      return details.maxFileBytes ? t('reply.file_too_large_size', { size: megabytes(details.maxFileBytes) }) : t('reply.file_too_large');
    case 'rate_limited': {
      const wait = details.retryAfterSec ?? 60;
      return wait < 90 ? t('reply.rate_limited_seconds', { count: wait }) : t('reply.rate_limited_minutes', { count: Math.ceil(wait / 60) });
    }
    case 'no_such_face':
      return details.faces === 1 ? t('reply.only_one_face') : t('reply.no_such_face', { count: details.faces ?? 0 });
    case 'no_index':
    case 'empty_index':
    case 'model_mismatch':
    case 'unknown_model':
    case 'missing_file':
    case 'unknown_celebrity':
    case 'bad_metadata':
      return t('reply.not_ready');
    default:
      return t(`reply.${code}`);
  }
}

/** A short id that ties the user's apology to the one log line about it. */
export function newErrorId(): string {
  return randomBytes(4).toString('hex');
}

export function internalErrorText(errorId: string, t: Translate = translator(DEFAULT_LANGUAGE)): string {
  return t('reply.internal_error', { id: errorId });
}

/** Logs an unexpected error once, with an id, and returns the apology for the user (in the language of `t`). */
export function reportInternalError(log: Logger, err: unknown, context: Record<string, unknown>, t?: Translate): string {
  const errorId = newErrorId();
  log.error({ err, errorId, ...context }, 'request failed');
  return internalErrorText(errorId, t);
}
