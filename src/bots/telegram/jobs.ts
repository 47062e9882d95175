import type { FaceChoice } from '../../core/engineTypes.ts';
import { jobId, type MatchJob, type MatchJobData } from '../../queue/matchJobs.ts';
import { PLATFORM } from './deps.ts';

// A Telegram request as a queue job: the chat, the user and the message to quote, and the file_id the
// worker downloads the photo or video with (using the bot's own token, from its environment). No bytes.
// The user's language travels as from.language_code (the worker's texts use it); the face asked for in
// a group photo travels as `face`; the gender setting does not travel: the worker reads it from the
// shared database, as the bot in one process does.

interface TelegramJobBase extends MatchJobData {
  platform: typeof PLATFORM;
  updateId: number;
  chat: { id: number; type: string };
  from: { id: number; is_bot: boolean; first_name: string; last_name?: string; username?: string; language_code?: string };
  replyTo: number;
  fileId: string;
}

export interface TelegramPhotoJob extends TelegramJobBase {
  kind: 'photo';
  /** "/lookalike 3": the face of a group photo asked for. */
  face?: FaceChoice;
}

export interface TelegramVideoJob extends TelegramJobBase {
  kind: 'video';
  /** The "Watching..." message the front end sent, which the worker edits. */
  watchingId: number;
  size?: number;
  duration?: number;
}

/** /morph: the animation is made on the worker too. */
export interface TelegramMorphJob extends TelegramJobBase {
  kind: 'morph';
  face?: FaceChoice;
}

export type TelegramJob = TelegramPhotoJob | TelegramVideoJob | TelegramMorphJob;

interface RequestFields {
  telegram: { token: string };
  updateId: number;
  chat: { id: number; type: string };
  from: TelegramJobBase['from'];
  replyTo: number;
}

function base(req: RequestFields, fileId: string): Omit<TelegramJobBase, 'kind'> {
  const { id, is_bot, first_name, last_name, username, language_code } = req.from;
  return {
    platform: PLATFORM,
    admittedAt: Date.now(),
    updateId: req.updateId,
    chat: { id: req.chat.id, type: req.chat.type },
    from: { id, is_bot, first_name, ...(last_name ? { last_name } : {}), ...(username ? { username } : {}), ...(language_code ? { language_code } : {}) },
    replyTo: req.replyTo,
    fileId,
  };
}

/** update_id is unique per bot: the bot's id (the token's first part, not a secret) makes it unique per queue. */
function requestId(req: RequestFields): string {
  return jobId('tg', req.telegram.token.split(':')[0]!, req.updateId);
}

export function photoJob(req: RequestFields, fileId: string, face?: FaceChoice): MatchJob<TelegramPhotoJob> {
  return { id: requestId(req), data: { ...base(req, fileId), kind: 'photo', ...(face !== undefined ? { face } : {}) } };
}

export function morphJob(req: RequestFields, fileId: string, face?: FaceChoice): MatchJob<TelegramMorphJob> {
  return { id: requestId(req), data: { ...base(req, fileId), kind: 'morph', ...(face !== undefined ? { face } : {}) } };
}

export function videoJob(req: RequestFields & { fileId: string; size?: number; duration?: number }, watchingId: number): MatchJob<TelegramVideoJob> {
  return {
    id: requestId(req),
    data: {
      ...base(req, req.fileId),
      kind: 'video',
      watchingId,
      ...(req.size !== undefined ? { size: req.size } : {}),
      ...(req.duration !== undefined ? { duration: req.duration } : {}),
    },
  };
}
