// When to retry after a lost connection (the SDK's media server, a media server's broker): an
// interface (LiveKit-style) and full-jitter exponential backoff, so peers failing together do
// not retry together.

export interface ReconnectContext {
  /** 0 for the first retry after the loss. */
  attempt: number;
  /** Since the loss was detected. */
  elapsedMs: number;
  /** Why the last connection ended or the last attempt failed. */
  reason: string;
}

export interface ReconnectPolicy {
  /** Milliseconds to wait before the next attempt, or null to give up. */
  nextRetryDelayMs(ctx: ReconnectContext): number | null;
}

export interface JitterBackoffOptions {
  /** Window of the very first retry: spreads a thousand clients that lost one server at once. */
  firstWindowMs?: number;
  baseMs?: number;
  maxMs?: number;
  giveUpAfterMs?: number;
  /** In [0, 1); injected for tests. */
  random?: () => number;
}

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the delay is uniform
 * in [0, cap) with cap = min(maxMs, baseMs·2^attempt); attempt 0 uses firstWindowMs.
 */
export class JitterBackoffPolicy implements ReconnectPolicy {
  readonly #firstWindowMs: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #giveUpAfterMs: number;
  readonly #random: () => number;

  constructor(options: JitterBackoffOptions = {}) {
    this.#firstWindowMs = options.firstWindowMs ?? 300;
    this.#baseMs = options.baseMs ?? 250;
    this.#maxMs = options.maxMs ?? 5000;
    this.#giveUpAfterMs = options.giveUpAfterMs ?? 60_000;
    this.#random = options.random ?? Math.random;
  }

  /** The exclusive upper bound of the delay for `attempt`. */
  windowMs(attempt: number): number {
    if (attempt <= 0) return this.#firstWindowMs;
    return Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(attempt, 30));
  }

  nextRetryDelayMs(ctx: ReconnectContext): number | null {
    if (ctx.elapsedMs >= this.#giveUpAfterMs) return null;
    const window = this.windowMs(ctx.attempt);
    // floor keeps the value strictly below the window even when random() is 1 - ε.
    return Math.min(window - 1, Math.floor(this.#random() * window));
  }
}
