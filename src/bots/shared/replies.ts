import { randomBytes } from 'node:crypto';
import { ACCEPTED_FORMATS_TEXT } from '../../core/decode.ts';
import type { FailureCode } from '../../core/result.ts';
import type { Logger } from '../../log.ts';

// Every way a request can end without a picture, as one short sentence a chat user understands.
// Plain text: the platform layer escapes it for its markup.

/** Refusals the bots make themselves, before or around the engine. */
export type BotRefusal = 'unsupported_file' | 'video_not_supported' | 'no_photo' | 'rate_limited' | 'busy' | 'timeout' | 'download_failed';

export type ReplyCode = FailureCode | BotRefusal;

export interface ReplyDetails {
  /** The download limit, when known (Telegram's 20 MB, or an operator's override). */
  maxFileBytes?: number | null;
  retryAfterSec?: number;
}

// Failures that mean the bot is misconfigured, not that the user did something wrong: the user gets
// the generic apology and the operator a log line.
const OPERATOR_FAILURES: ReadonlySet<FailureCode> = new Set(['no_index', 'empty_index', 'model_mismatch', 'unknown_model', 'missing_file', 'unknown_celebrity']);

export function isOperatorFailure(code: ReplyCode): boolean {
  return OPERATOR_FAILURES.has(code as FailureCode);
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return Number.isInteger(mb) ? `${mb} MB` : `${mb.toFixed(1)} MB`;
}

export function replyText(code: ReplyCode, details: ReplyDetails = {}): string {
  switch (code) {
    case 'no_face':
      return "I couldn't find a face in that picture. Try a well-lit photo with your face looking at the camera.";
    case 'not_an_image':
    case 'unsupported_file':
      return `That file isn't a photo I can read. Send a ${ACCEPTED_FORMATS_TEXT} picture.`;
    case 'video_not_supported':
      // Only for an engine without video matching (a test double); the real one watches videos.
      return "I can't watch videos here. Send a still photo instead.";
    case 'corrupt_image':
      return 'That picture seems to be damaged. Could you send it again?';
    case 'not_a_video':
      return "That file isn't a video I can read. Send an MP4, a video note or a GIF.";
    case 'no_video_stream':
      return 'That file has no picture in it, only sound. Send a video with your face in it.';
    case 'video_too_long':
      return "That video is too long for me. Send one of a minute or less.";
    case 'corrupt_video':
      return 'That video seems to be damaged or cut short. Could you send it again?';
    case 'empty_file':
      return 'That file is empty. Send a photo instead.';
    case 'file_too_large':
      return details.maxFileBytes
        ? `That file is over ${megabytes(details.maxFileBytes)}, more than I can download. Send it as a photo rather than a file, or a smaller one.`
        : 'That file is too large for me to download. Send it as a photo rather than a file, or a smaller one.';
    case 'too_many_pixels':
      return 'That picture has too many pixels for me. Send a smaller version of it.';
    case 'no_photo':
      return 'Send me a photo, or reply /lookalike to a message with a photo.';
    case 'rate_limited': {
      const wait = details.retryAfterSec ?? 60;
      return `Easy there! You can try again in ${wait < 90 ? `${wait} seconds` : `${Math.ceil(wait / 60)} minutes`}.`;
    }
    case 'busy':
      return "I'm busy with lots of photos right now. Please try again in a minute.";
    case 'timeout':
      return 'That took too long, sorry. Please try again in a minute.';
    case 'download_failed':
      return "I couldn't download that file from Telegram. Please send it again.";
    case 'no_index':
    case 'empty_index':
    case 'model_mismatch':
    case 'unknown_model':
    case 'missing_file':
    case 'unknown_celebrity':
      return "My celebrity gallery isn't ready yet. Please try again later.";
  }
}

/** A short id that ties the user's apology to the one log line about it. */
export function newErrorId(): string {
  return randomBytes(4).toString('hex');
}

export function internalErrorText(errorId: string): string {
  return `Something went wrong on my side, sorry. If it keeps happening, mention error ${errorId}.`;
}

/** Logs an unexpected error once, with an id, and returns the apology for the user. */
export function reportInternalError(log: Logger, err: unknown, context: Record<string, unknown>): string {
  const errorId = newErrorId();
  log.error({ err, errorId, ...context }, 'request failed');
  return internalErrorText(errorId);
}
