// Match jobs as they travel through Redis: small, plain data. They carry what the worker needs to
// fetch the photo itself (a Telegram file_id, a Discord attachment URL) and to answer the user, never
// the photo. Each platform module defines its own data; this is what every job has.

export interface MatchJobData {
  platform: string;
  kind: 'photo' | 'video' | 'morph';
  /** Date.now() when the front end admitted the request: the request's timeout runs from here, queue included. */
  admittedAt: number;
}

export interface MatchJob<D extends MatchJobData = MatchJobData> {
  /**
   * The platform's own id of the request (Telegram's update_id, Discord's interaction id): a request
   * delivered twice is one job, and the reply ledger keeps a retried job from answering twice.
   */
  id: string;
  data: D;
}

/** BullMQ job names: "<platform>.<kind>". */
export function jobName(data: MatchJobData): string {
  return `${data.platform}.${data.kind}`;
}

/** Custom BullMQ ids may not contain ':' (it separates Redis key parts). */
export function jobId(...parts: (string | number)[]): string {
  return parts.map((p) => String(p).replace(/[^A-Za-z0-9_.-]/g, '_')).join('-');
}
