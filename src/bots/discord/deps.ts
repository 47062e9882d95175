import type { LookalikeEngine } from '../../core/engineTypes.ts';
import type { Store } from '../../db/types.ts';
import type { Logger } from '../../log.ts';
import type { BackgroundJobs } from '../shared/backgroundJobs.ts';
import type { RequestLimits } from '../shared/limits.ts';
import type { RequestRouter } from '../shared/router.ts';

/** What every command of the Discord bot may use; built once in bot.ts. */
export interface DiscordBotDeps {
  engine: LookalikeEngine;
  store: Store;
  limits: RequestLimits;
  /** Where admitted requests run: here, or on workers through the queue. */
  router: RequestRouter;
  jobs: BackgroundJobs;
  /** Attachments above this are refused without downloading them. */
  maxFileBytes: number;
  /** Runners-up named per face. */
  runnersUp: number;
  log: Logger;
}

export const PLATFORM = 'discord' as const;

/** Discord's attachment limit as the bot enforces it. */
export const DISCORD_FILE_LIMIT_BYTES = 25 * 1024 * 1024;

/** Discord's limits, in characters. */
export const MESSAGE_LIMIT = 2000;
export const EMBED_DESCRIPTION_LIMIT = 4096;
export const EMBED_FIELD_LIMIT = 1024;
