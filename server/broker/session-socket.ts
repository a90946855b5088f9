// One client's `/v1/session` WebSocket: its frames admitted (size, rate, per-address budget),
// decoded, bounded in flight and answered; the keepalive that finds dead TCP connections, and
// the idle rule that closes a socket that has made no request for too long.
import type { WebSocket } from 'ws';
import { type DecodeResult, type Decoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode, type ErrorCode, type UsherError } from '../../shared/errors.ts';
import type { BrokerInbound, SessionAssigned } from '../../shared/protocol/broker.ts';
import { Limits } from '../../shared/protocol/common.ts';
import { admitFrame, decodeFrame, type RawFrame } from '../common/frame-admission.ts';
import { type RateLimitOptions, TokenBucket } from '../common/token-bucket.ts';
import type { IpBudget } from './ip-budget.ts';
import type { ClientAddress, SessionService } from './sessions.ts';
import { closeSocket, sendJson, sendText } from './ws-util.ts';

/** Requests one WebSocket may have unanswered at once (see docs/PROTOCOL.md). */
export const MAX_IN_FLIGHT = 4;

/** What a session socket needs from the broker; built once per route, shared by every socket. */
export interface SessionSocketContext {
  readonly sessions: SessionService;
  readonly decoder: Decoder<BrokerInbound>;
  /** Per-address request budget shared with the HTTP route; undefined ⇒ unlimited. */
  readonly budget: IpBudget | undefined;
  /** Frame rate limit of one socket; undefined ⇒ unlimited. */
  readonly socketLimit: RateLimitOptions | undefined;
  serializeAssigned(assigned: SessionAssigned): string;
  /** Counts a request refused before it reached the session service. */
  refused(code: ErrorCode): void;
  /** Counts and times one answered request (`assigned` or its error code). */
  answered(started: number, result: string): void;
  /** The catalogue error a failed assignment is answered with (logging an unexpected one). */
  failure(error: unknown): UsherError;
  /** Called once when the socket has closed. */
  onClosed(socket: SessionSocket): void;
}

/** `open`: serving; `closing`: a refusal ended it, frames are ignored; `closed`: gone. */
type State = 'open' | 'closing' | 'closed';

/**
 * A class rather than closures per socket: a browser opens one per join, so its set-up is on
 * the hot path.
 */
export class SessionSocket {
  /** Cleared by each keepalive round, set by the pong that answers it. */
  alive = true;
  /** When this socket last made a request that its address's budget accepted (performance.now()). */
  lastRequestAt: number;
  private state: State = 'open';
  private inFlight = 0;
  private readonly bucket: TokenBucket | undefined;

  constructor(
    private readonly socket: WebSocket,
    readonly client: ClientAddress,
    /** The key this socket is counted under by the connection limits. */
    readonly limitKey: string,
    private readonly ctx: SessionSocketContext,
  ) {
    const now = performance.now();
    this.lastRequestAt = now;
    this.bucket = ctx.socketLimit === undefined ? undefined : new TokenBucket(ctx.socketLimit, now);
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.once('close', () => {
      this.state = 'closed';
      ctx.onClosed(this);
    });
  }

  /** One keepalive round: a socket that did not answer the previous ping is cut. */
  keepalive(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** Closes the socket with IDLE_TIMEOUT if it has made no request since `since`; true if it did. */
  closeIfIdleSince(since: number): boolean {
    if (this.state !== 'open' || this.inFlight > 0 || this.lastRequestAt > since) return false;
    this.state = 'closing';
    sendJson(this.socket, errorMessage('IDLE_TIMEOUT', null, 'no session request for too long'));
    closeSocket(this.socket, CloseCode.IDLE_TIMEOUT, 'IDLE_TIMEOUT');
    return true;
  }

  private answer(message: ReturnType<typeof errorMessage>): void {
    if (this.state === 'open') sendJson(this.socket, message);
  }

  private refuse(code: ErrorCode, id: string | null, message?: string, retryAfterMs?: number): void {
    this.ctx.refused(code);
    this.answer(errorMessage(code, id, message, retryAfterMs === undefined ? undefined : { retryAfterMs }));
  }

  private close(code: number, reason: string): void {
    this.state = 'closing';
    closeSocket(this.socket, code, reason);
  }

  private onMessage(data: RawFrame, isBinary: boolean): void {
    if (this.state !== 'open') return;
    const ctx = this.ctx;
    const now = performance.now();
    // ws cut anything over the route's maxPayload; this route's own, smaller limit is checked here.
    const verdict = admitFrame(data, Limits.brokerFrameBytes, this.bucket, now);
    if (verdict === 'too-large') {
      this.refuse('FRAME_TOO_LARGE', null);
      this.close(CloseCode.MESSAGE_TOO_BIG, 'frame too large');
      return;
    }
    // Decoded before a refusal only so that the refusal can carry the request id the client waits on.
    const decoded: DecodeResult<BrokerInbound> = decodeFrame(ctx.decoder, data, isBinary);
    const id = decoded.ok ? decoded.msg.id : decoded.id;
    if (verdict === 'abuse') {
      this.refuse('RATE_LIMITED', id, 'too many messages on this connection; closing');
      this.close(CloseCode.RATE_LIMITED, 'RATE_LIMITED');
      return;
    }
    if (verdict === 'limited') {
      this.refuse('RATE_LIMITED', id, 'too many messages on this connection', this.bucket?.retryAfterMs());
      return;
    }
    // Every frame is a request attempt, valid or not: it costs this address's budget too.
    if (ctx.budget !== undefined) {
      const spent = ctx.budget.take(this.client.address);
      if (!spent.ok) {
        this.refuse('RATE_LIMITED', id, undefined, spent.retryAfterMs);
        return;
      }
    }
    this.lastRequestAt = now;
    if (!decoded.ok) {
      this.refuse(decoded.code, decoded.id, decoded.message);
      return;
    }
    const request = decoded.msg;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.refuse('TOO_MANY_IN_FLIGHT', request.id);
      return;
    }
    this.inFlight++;
    ctx.sessions(request, this.client).then(
      (assigned) => {
        this.inFlight--;
        ctx.answered(now, 'assigned');
        if (this.state === 'open') sendText(this.socket, ctx.serializeAssigned(assigned));
      },
      (error: unknown) => {
        this.inFlight--;
        const failure = ctx.failure(error);
        ctx.answered(now, failure.code);
        this.answer(
          errorMessage(
            failure.code,
            request.id,
            failure.message,
            failure.retryAfterMs === undefined ? undefined : { retryAfterMs: failure.retryAfterMs },
          ),
        );
      },
    );
  }
}
