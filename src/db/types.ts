import type { CompareWith, Platform } from './platform.ts';

export type { CompareWith, Platform };

/** The outcome of one match, as a bot reports it. No image or face descriptor: those are never stored. */
export interface ResultRecord {
  platform: Platform;
  /** Telegram chat id or Discord guild id. */
  chatId: string;
  userId: string;
  /** The name to show on leaderboards; the most recent one a user had wins. */
  displayName: string;
  celebrity: string;
  /** 0..100 */
  similarity: number;
  /** Defaults to now. */
  createdAt?: Date;
}

export interface LeaderboardEntry {
  /** 1-based position; ties in similarity are broken by the earlier result. */
  rank: number;
  userId: string;
  displayName: string;
  celebrity: string;
  similarity: number;
}

export interface CelebrityCount {
  celebrity: string;
  count: number;
}

export interface ListOptions {
  /** Default 10, at most 100. */
  limit?: number;
}

export interface Store {
  recordResult(r: ResultRecord): Promise<void>;
  /** Each member once, with their best result in that chat; hidden users excluded. */
  leaderboard(platform: Platform, chatId: string, opts?: ListOptions): Promise<LeaderboardEntry[]>;
  /** Most matched celebrities in that chat, counting every result of users who are not hidden. */
  topCelebrities(platform: Platform, chatId: string, opts?: ListOptions): Promise<CelebrityCount[]>;
  setHidden(platform: Platform, userId: string, hidden: boolean): Promise<void>;
  isHidden(platform: Platform, userId: string): Promise<boolean>;
  /** Whom the user is compared with ('everyone' until they choose). */
  compareWith(platform: Platform, userId: string): Promise<CompareWith>;
  setCompareWith(platform: Platform, userId: string, value: CompareWith): Promise<void>;
  /** Deletes every result of the user in every chat, their display name, hidden flag and settings. */
  forgetUser(platform: Platform, userId: string): Promise<{ deletedResults: number }>;
  close(): Promise<void>;
}
