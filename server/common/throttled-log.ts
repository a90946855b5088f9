// A warning that an attacker can trigger at will (a refused registration, a refused upgrade)
// must not become one log line per attempt: the first few are written as they come, then at
// most one per interval, each saying how many were held back since the previous line. The
// metrics still count every attempt.
import type { Logger } from './logger.ts';

export class ThrottledLog {
  private allowance: number;
  private last: number;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    /** Lines written at once after a quiet spell. */
    private readonly burst: number,
    /** Then one line per this many ms. */
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {
    this.allowance = burst;
    this.last = now();
  }

  /** Logs `message` at warn level if the allowance has a line left. */
  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    this.allowance = Math.min(this.burst, this.allowance + (now - this.last) / this.intervalMs);
    this.last = now;
    if (this.allowance < 1) {
      this.suppressed++;
      return;
    }
    this.allowance -= 1;
    this.logger.warn(this.suppressed === 0 ? fields : { ...fields, suppressed: this.suppressed }, message);
    this.suppressed = 0;
  }
}
