// "Send this webhook once, whichever broker saw it": a claim on the event's id that the
// first broker to ask wins. In memory for one broker; redis-webhook-once.ts for several.

/** Claims are keyed by event id and target; the first claimant within the TTL delivers. */
export interface WebhookOnceStore {
  /** True for the first caller of `key` within `ttlMs`, across every broker that shares the store. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** One broker's claims. Expired claims are swept at most once a second. */
export class MemoryWebhookOnceStore implements WebhookOnceStore {
  private readonly claims = new Map<string, number>();
  private sweptAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    this.sweep(now);
    const until = this.claims.get(key);
    if (until !== undefined && until > now) return false;
    this.claims.set(key, now + ttlMs);
    return true;
  }

  async close(): Promise<void> {
    this.claims.clear();
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 1000) return;
    this.sweptAt = now;
    for (const [key, until] of this.claims) if (until <= now) this.claims.delete(key);
  }
}
