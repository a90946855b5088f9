// The SDK's time source is shared/clock.ts (the media server's control client uses it too);
// `sleep` stays here because it needs AbortSignal, which shared/ does not use.
import type { Clock } from '../../shared/clock.ts';

export { type Clock, systemClock, type TimerHandle } from '../../shared/clock.ts';

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks why it woke). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
