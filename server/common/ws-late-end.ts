// ws 8 (8.23.0 here) calls `end()` on a connection's frame receiver — a Node Writable — on the
// socket's 'end' and again on its 'close', by which time the receiver has finished. Node answers
// a late `end()` by building an ERR_STREAM_ALREADY_FINISHED error, with a stack trace captured
// at unlimited depth, and dropping it (ws passes no callback): nothing happens but the cost,
// a measurable share of a bare ws server's connect-request-close (docs/PERFORMANCE.md).
// Both Usher servers close a WebSocket per join, so they skip that one call. The socket's own
// late `end()` (ws's socketOnEnd, when the peer's FIN comes after this side's end finished)
// costs the same once more: that one is skipped per socket (`skipLateSocketEnd`), on the
// sockets the servers upgrade, not on every net.Socket of the process.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import * as ws from 'ws';

type End = (this: LateEndTarget, ...args: unknown[]) => unknown;
interface LateEndTarget {
  readonly writableFinished: boolean;
  end: End;
}

const PATCHED = Symbol.for('usher.ws-receiver-late-end');
let skipped = 0;
let skippedOnSockets = 0;

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

const socketEnd = Socket.prototype.end;

function endUnlessFinished(this: Socket, ...args: unknown[]): Socket {
  if (args.length === 0 && this.writableEnded && this.writableFinished) {
    skippedOnSockets += 1;
    return this;
  }
  return (socketEnd as (...rest: unknown[]) => Socket).apply(this, args);
}

/**
 * Makes `end()` without arguments on this socket, once its own end has finished, return at
 * once — what it did anyway, minus the discarded error. A stream that is not a net.Socket
 * (a test's duplex), or whose `end` is not net.Socket's, is left alone.
 */
export function skipLateSocketEnd(socket: Duplex): void {
  // Only over net.Socket's own end (a TLS socket inherits it), never over a subclass's override.
  if (socket instanceof Socket && socket.end === socketEnd) socket.end = endUnlessFinished as Socket['end'];
}

/** How many late receiver `end()` calls were skipped in this process (for the tests). */
export function skippedLateEnds(): number {
  return skipped;
}

/** How many late socket `end()` calls were skipped in this process (for the tests). */
export function skippedLateSocketEnds(): number {
  return skippedOnSockets;
}
