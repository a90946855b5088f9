// The broker's side of seat reservations on one control connection: each `reserve` gets an id,
// waits for its `reserved` or `refused` (pipelined: any number in flight, answered in any
// order) and gives up at its deadline. docs/ARCHITECTURE.md "Server-confirmed seats".
import type { SeatRefused, SeatReserve, SeatReserved } from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';

/** What one reservation came to: a confirmation, a refusal, no answer in time, or a channel gone. */
export type SeatOutcome =
  | { kind: 'reserved'; confirmation: string }
  | { kind: 'refused'; code: SeatRefused['code'] }
  | { kind: 'timeout' }
  | { kind: 'gone' };

/** What the broker asks a seat for (the wire message without its type, version and id). */
export type SeatRequest = Omit<SeatReserve, 'type' | 'v' | 'id'>;

interface Waiting {
  resolve(outcome: SeatOutcome): void;
  timer: NodeJS.Timeout;
}

/** Most reservations one connection may have in flight; beyond, the request counts as timed out at once. */
export const MAX_SEATS_IN_FLIGHT = 10_000;

export class SeatRequests {
  private nextId = 0;
  private readonly waiting = new Map<string, Waiting>();
  private closed = false;

  constructor(private readonly send: (message: SeatReserve) => void) {}

  get inFlight(): number {
    return this.waiting.size;
  }

  /** Asks for a seat; resolves exactly once, at the latest after `timeoutMs`. Never rejects. */
  reserve(request: SeatRequest, timeoutMs: number): Promise<SeatOutcome> {
    if (this.closed) return Promise.resolve({ kind: 'gone' });
    if (this.waiting.size >= MAX_SEATS_IN_FLIGHT) return Promise.resolve({ kind: 'timeout' });
    const id = (this.nextId++).toString(36);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer });
      this.send({ type: 'reserve', v: PROTOCOL_VERSION, id, ...request });
    });
  }

  /** The server's answer; one for an id not waiting (late, or never asked) is dropped, so false. */
  answer(message: SeatReserved | SeatRefused): boolean {
    const waiting = this.waiting.get(message.id);
    if (waiting === undefined) return false;
    this.waiting.delete(message.id);
    clearTimeout(waiting.timer);
    waiting.resolve(
      message.type === 'reserved'
        ? { kind: 'reserved', confirmation: message.confirmation }
        : { kind: 'refused', code: message.code },
    );
    return true;
  }

  /** The channel closed: everything in flight is `gone`, and so is anything asked later. */
  close(): void {
    this.closed = true;
    for (const { resolve, timer } of this.waiting.values()) {
      clearTimeout(timer);
      resolve({ kind: 'gone' });
    }
    this.waiting.clear();
  }
}
