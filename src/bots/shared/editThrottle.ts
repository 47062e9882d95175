// At most one progress edit per chat (Telegram) or channel (Discord) every `intervalMs`, shared by every
// video being watched there. A chat's entry is only needed until its interval has passed, so entries
// older than that are dropped as new ones come in: the map holds the chats edited in the last interval,
// not every chat the bot has ever seen.

export class EditThrottle<K> {
  // Kept in the order of their last edit (an entry is moved to the end when set), oldest first.
  private readonly last = new Map<K, number>();

  constructor(
    readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Chats whose last edit is recent enough to still hold the next one back. */
  get size(): number {
    this.prune(this.now());
    return this.last.size;
  }

  /** Whether an edit in this chat may go out now. */
  due(key: K): boolean {
    const at = this.last.get(key);
    return at === undefined || this.now() - at >= this.intervalMs;
  }

  /** Records an edit in this chat now. */
  mark(key: K): void {
    const now = this.now();
    this.last.delete(key);
    this.last.set(key, now);
    this.prune(now);
  }

  private prune(now: number): void {
    for (const [key, at] of this.last) {
      if (now - at < this.intervalMs) break;
      this.last.delete(key);
    }
  }
}
