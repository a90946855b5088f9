// Notices when the broker's own event loop stood still (SIGSTOP, a long GC, a VM pause): then
// every timer fires late at once, and a silent media server is the broker's silence, not its own.

export interface StallWatchOptions {
  /** How often the watch ticks. */
  tickMs: number;
  /** A tick this much later than due means the loop stalled. */
  thresholdMs: number;
  /** After a stall, servers' silence is forgiven for this long (a fresh heartbeat period). */
  graceMs: number;
  now: () => number;
  /** A stall was noticed (once per stall). */
  onStall: (stalledMs: number) => void;
}

export class StallWatch {
  private readonly options: StallWatchOptions;
  private readonly timer: NodeJS.Timeout;
  private lastTick: number;
  private lastStallSeenAt = Number.NEGATIVE_INFINITY;

  constructor(options: StallWatchOptions) {
    this.options = options;
    this.lastTick = options.now();
    this.timer = setInterval(() => this.check(), options.tickMs);
    this.timer.unref();
  }

  /**
   * True while a stall is under way or was just noticed: a timer that fires now may be late
   * only because the broker was not running, so it must not judge anyone by it.
   */
  stalled(): boolean {
    this.check();
    return this.options.now() - this.lastStallSeenAt < this.options.graceMs;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = this.options.now();
    const late = now - this.lastTick - this.options.tickMs;
    this.lastTick = now;
    if (late < this.options.thresholdMs) return;
    // A silence timer may run before the watch's own tick: whichever comes first notices it.
    this.lastStallSeenAt = now;
    this.options.onStall(late + this.options.tickMs);
  }
}
