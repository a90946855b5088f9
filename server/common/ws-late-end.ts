// ws 8 (8.23.0 here) calls `end()` on a connection's frame receiver — a Node Writable — on the
// socket's 'end' and again on its 'close', by which time the receiver has finished. Node answers
// a late `end()` by building an ERR_STREAM_ALREADY_FINISHED error, with a stack trace captured
// at unlimited depth, and dropping it (ws passes no callback): nothing happens but the cost,
// a measurable share of a bare ws server's connect-request-close (docs/PERFORMANCE.md).
// Both Usher servers close a WebSocket per join, so they skip that one call. The socket's own
// late `end()` (ws's socketOnEnd) costs the same once more; it is a net.Socket method and
// stays as it is.
import * as ws from 'ws';

type End = (this: LateEndTarget, ...args: unknown[]) => unknown;
interface LateEndTarget {
  readonly writableFinished: boolean;
  end: End;
}

const PATCHED = Symbol.for('usher.ws-receiver-late-end');
let skipped = 0;

/**
 * Makes `end()` without arguments on an already finished ws receiver return at once — what it
 * did anyway, minus the discarded error. Idempotent; false when this ws has no such receiver
 * (then nothing is changed).
 */
export function skipLateReceiverEnd(): boolean {
  // Exported by ws (its ES module names it) but not by its type definitions.
  const receiver = (ws as unknown as { Receiver?: { prototype: LateEndTarget } }).Receiver;
  const prototype = receiver?.prototype as (LateEndTarget & { [PATCHED]?: true }) | undefined;
  if (prototype === undefined || typeof prototype.end !== 'function') return false;
  if (prototype[PATCHED]) return true;
  const end = prototype.end;
  prototype.end = function (this: LateEndTarget, ...args: unknown[]) {
    if (args.length === 0 && this.writableFinished) {
      skipped += 1;
      return this;
    }
    return end.apply(this, args);
  };
  prototype[PATCHED] = true;
  return true;
}

/** How many late `end()` calls were skipped in this process (for the tests). */
export function skippedLateEnds(): number {
  return skipped;
}
