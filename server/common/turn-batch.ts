// Frames written to one socket during one event-loop turn leave in one write. A broker that
// reads fifty session requests in one turn asks each media server for their seats in one
// TCP segment, not fifty; the server's answers go back the same way.
import type { Duplex } from 'node:stream';

/**
 * Corks the socket at the first write of a turn and uncorks it in that turn's check phase
 * (setImmediate: after every socket read in the poll phase, so across clients, not per read).
 * ws corks and uncorks around each frame itself; corks nest, so its frames wait for ours.
 */
export class TurnBatch {
  private holding = false;

  constructor(private readonly stream: Duplex) {}

  /** Call before each send whose frame may wait for the end of this turn. */
  hold(): void {
    if (this.holding || this.stream.destroyed) return;
    this.holding = true;
    this.stream.cork();
    setImmediate(() => {
      this.holding = false;
      this.stream.uncork();
    });
  }
}
