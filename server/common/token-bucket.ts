// Message rate limit of one connection (media and broker sockets alike): a token bucket whose
// balance may go into debt, so one number tells both "drop this message" and "this client
// ignores the limit: close it".

export interface RateLimitOptions {
  /** Messages a connection may send at once after a quiet spell. */
  readonly burst: number;
  /** Sustained messages per second. */
  readonly perSecond: number;
  /** Rejected messages (debt) tolerated before the connection counts as abusive. */
  readonly abuseDebt: number;
}

export type RateVerdict = 'ok' | 'limited' | 'abuse';

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    private readonly options: RateLimitOptions,
    now: number,
  ) {
    this.tokens = options.burst;
    this.last = now;
    this.perMs = options.perSecond / 1000;
  }

  /** Charges one message. Rejected messages still cost a token: ignoring the limit digs the hole deeper. */
  take(now: number): RateVerdict {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.options.burst, this.tokens + elapsed * this.perMs);
      this.last = now;
    }
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -this.options.abuseDebt ? 'abuse' : 'limited';
  }

  /** How long until one message would be accepted again. */
  retryAfterMs(): number {
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }
}
