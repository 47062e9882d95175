import type { Redis } from 'ioredis';
import { KEY_PREFIX } from './settings.ts';

// At-least-once delivery, answered once. BullMQ may run a job twice (its worker died, or lost its lock),
// so a worker claims a request's answer in Redis before sending it and marks it sent after: a retried
// job finds "sent" and sends nothing. A claim expires, so that a worker killed while sending does not
// leave the request unanswered for good; the one duplicate left possible is an answer the platform
// received from a worker that died before it heard back. Keys hold the request id only, nothing of the
// photo, and are kept for a day (Telegram redelivers an update for at most a day).

const SENT = 'sent';
/** Longest a send may take before another worker may take it over. */
export const CLAIM_MS = 30_000;
const SENT_TTL_SEC = 24 * 3600;
const POLL_MS = 200;

// Deletes the claim only if it is still ours.
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export type Claim = 'claimed' | 'sent';

export class ReplyLedger {
  constructor(
    private readonly redis: Redis,
    private readonly claimMs = CLAIM_MS,
  ) {}

  private key(requestId: string): string {
    return `${KEY_PREFIX}:answered:${requestId}`;
  }

  async isAnswered(requestId: string): Promise<boolean> {
    return (await this.redis.get(this.key(requestId))) === SENT;
  }

  /** Takes the right to send the answer; 'sent' when it went out already. Waits while another worker is sending. */
  async claim(requestId: string, owner: string): Promise<Claim> {
    const key = this.key(requestId);
    for (;;) {
      if ((await this.redis.set(key, owner, 'PX', this.claimMs, 'NX')) === 'OK') return 'claimed';
      const holder = await this.redis.get(key);
      if (holder === SENT) return SENT;
      if (holder === owner) return 'claimed';
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async confirm(requestId: string): Promise<void> {
    await this.redis.set(this.key(requestId), SENT, 'EX', SENT_TTL_SEC);
  }

  async release(requestId: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(requestId), owner);
  }

  /**
   * Sends through the ledger: nothing when the request was answered already, else `send` once, marked
   * sent when it succeeds and released when it throws (so the error reply, or a retry, may still answer).
   */
  async sendOnce<T>(requestId: string, owner: string, send: () => Promise<T>): Promise<{ sent: true; value: T } | { sent: false }> {
    if ((await this.claim(requestId, owner)) === SENT) return { sent: false };
    let value: T;
    try {
      value = await send();
    } catch (err) {
      await this.release(requestId, owner).catch(() => {});
      throw err;
    }
    await this.confirm(requestId);
    return { sent: true, value };
  }
}
