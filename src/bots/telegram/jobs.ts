import { jobId, type MatchJob, type MatchJobData } from '../../queue/matchJobs.ts';
import { PLATFORM } from './deps.ts';

// A Telegram request as a queue job: the chat, the user and the message to quote, and the file_id the
// worker downloads the photo or video with (using the bot's own token, from its environment). No bytes.

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
}

export interface TelegramVideoJob extends TelegramJobBase {
  kind: 'video';
  /** The "Watching..." message the front end sent, which the worker edits. */
  watchingId: number;
  size?: number;
  duration?: number;
}

export type TelegramJob = TelegramPhotoJob | TelegramVideoJob;

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

export function photoJob(req: RequestFields, fileId: string): MatchJob<TelegramPhotoJob> {
  return { id: requestId(req), data: { ...base(req, fileId), kind: 'photo' } };
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
