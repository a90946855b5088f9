// Test support: a deterministic Clock. Time moves only on tick(); due timers run in time
// order (ties in creation order), each seeing now() at its own due time.
// (Node 20's MockTimers was tried first: after a reset, timers set from socket callbacks in
// the next test fired at the wrong times, so an injected clock is used instead.)
import type { Clock, TimerHandle } from '../clock.ts';

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(now = 1_700_000_000_000) {
    this.#now = now;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Timers currently pending. */
  get pending(): number {
    return this.#timers.size;
  }

  tick(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let dueId: number | null = null;
      let dueAt = Number.POSITIVE_INFINITY;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= target && timer.at < dueAt) {
          dueId = id;
          dueAt = timer.at;
        }
      }
      if (dueId === null) break;
      const timer = this.#timers.get(dueId)!;
      this.#timers.delete(dueId);
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = target;
  }
}
