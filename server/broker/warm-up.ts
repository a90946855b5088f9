// The broker's warm-up: after it starts, thaws or its store reconnects, media servers get a
// bounded time to (re)register before their rooms count as lost; requests for them wait.

export interface WarmUpOptions {
  /** How long a warm-up lasts (default: the heartbeat timeout). 0: never warm up. */
  durationMs: number;
  /** Called when a warm-up ends (readiness may change). */
  onEnd?: () => void;
}

type Waiter = () => void;
/** Waiters for "any registration" (a room no server holds yet). */
const ANY = '';

export class WarmUp {
  private readonly durationMs: number;
  private readonly onEnd: () => void;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Map<string, Waiter[]>();
  private warming = false;

  constructor(options: WarmUpOptions) {
    this.durationMs = options.durationMs;
    this.onEnd = options.onEnd ?? (() => {});
  }

  /** True while servers may still be on their way back. */
  get active(): boolean {
    return this.warming;
  }

  /** Starts a warm-up, or extends the current one to a full period from now. */
  start(): void {
    if (this.durationMs <= 0) return;
    this.warming = true;
    clearTimeout(this.timer);
    // Not unref'd: requests may be waiting on it. The broker ends it when it closes.
    this.timer = setTimeout(() => this.end(), this.durationMs);
  }

  /** Ends the warm-up now: every waiting request goes on. */
  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const wasWarming = this.warming;
    this.warming = false;
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const list of all) for (const wake of list) wake();
    if (wasWarming) this.onEnd();
  }

  /** A server registered: wakes the requests waiting for it, and those waiting for any server. */
  registered(serverId: string): void {
    this.wake(serverId);
    this.wake(ANY);
  }

  /**
   * Resolves when `serverId` registers (undefined: when any server does) or the warm-up ends;
   * at once when there is no warm-up.
   */
  waitFor(serverId: string | undefined): Promise<void> {
    if (!this.warming) return Promise.resolve();
    return new Promise((resolve) => {
      const key = serverId ?? ANY;
      const list = this.waiters.get(key);
      if (list === undefined) this.waiters.set(key, [resolve]);
      else list.push(resolve);
    });
  }

  private wake(key: string): void {
    const list = this.waiters.get(key);
    if (list === undefined) return;
    this.waiters.delete(key);
    for (const wake of list) wake();
  }
}
