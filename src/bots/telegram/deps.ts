import type { LookalikeEngine } from '../../core/engineTypes.ts';
import type { Store } from '../../db/types.ts';
import type { Logger } from '../../log.ts';
import type { BackgroundJobs } from '../shared/backgroundJobs.ts';
import type { RequestLimits } from '../shared/limits.ts';

/** What every feature of the Telegram bot may use; built once in bot.ts. */
export interface TelegramBotDeps {
  engine: LookalikeEngine;
  store: Store;
  limits: RequestLimits;
  jobs: BackgroundJobs;
  /** The operator's download limit (Telegram's 20 MB by default); null: the Bot API server decides (self-hosted). */
  maxFileBytes: number | null;
  /** What a photo download may take: the limit above, else the decoder's byte limit. Never unbounded. */
  photoMaxBytes: number;
  /** What a video download may take: the limit above, at most the video matcher's byte limit. */
  videoMaxBytes: number;
  /** Runners-up named per face in the caption. */
  runnersUp: number;
  chatActionIntervalMs: number;
  log: Logger;
}

export const PLATFORM = 'telegram' as const;

/** Telegram's caption and message limits, in visible characters. */
export const CAPTION_LIMIT = 1024;
export const MESSAGE_LIMIT = 4096;
