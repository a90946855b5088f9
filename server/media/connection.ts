// One client's WebSocket on the media server: the join handshake (ticket check, replay,
// capacity), ping, signal relay, leave, and the timers and rate limit that guard it.
import type { RawData, WebSocket } from 'ws';
import { assertNever } from '../../shared/assert-never.ts';
import type { Decoder } from '../../shared/codec.ts';
import { errorMessage } from '../../shared/codec.ts';
import { CloseCode, ErrorCatalogue, type ErrorCode, UsherError } from '../../shared/errors.ts';
import type { Capacity } from '../../shared/protocol/control.ts';
import type { Join, MediaInbound, PeerInfo, SignalOut } from '../../shared/protocol/media.ts';
import { admitFrame, BINARY_FRAME, frameText } from '../common/frame-admission.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { type ReplayCache, verifyTicket } from '../common/tickets.ts';
import { type RateLimitOptions, TokenBucket } from '../common/token-bucket.ts';
import type { RoomRegistry } from './rooms.ts';
import type { SeatBook, SeatClaims } from './seats.ts';

/** What a connection needs from its server; passed in so tests can build one cheaply. */
export interface ConnectionContext {
  readonly serverId: string;
  readonly keys: KeyRing;
  readonly replay: ReplayCache;
  /** Seats this server confirmed; a join with one of their confirmations takes it. */
  readonly seats: SeatBook;
  /** Refuse broker-signed tickets: only this server's own confirmations admit (TICKET_INVALID). */
  readonly requireSeat: boolean;
  readonly rooms: RoomRegistry<MediaConnection>;
  readonly decoder: Decoder<MediaInbound>;
  readonly capacity: Capacity;
  readonly logger: Logger;
  readonly now: () => number;
  readonly joinTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly rateLimit: RateLimitOptions;
  /** True while the server refuses joins (draining or closing). */
  isDraining(): boolean;
  /** Called once when this connection is finished, whatever the reason. */
  onGone(connection: MediaConnection): void;
}

type State = 'new' | 'joined' | 'gone';

/** A receiver that lets this much pile up unread is dropped instead of growing our memory. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const OPEN = 1;
const MIGRATE = '{"type":"migrate","v":1,"reason":"draining"}';
/** `{"type":"ping","seq":N}` as every client sends it; anything else takes the full decoder. */
const PING = /^\{"type":"ping",(?:"v":1,)?"seq":(0|[1-9][0-9]{0,14})\}$/;

export class MediaConnection {
  peerId = '';
  name = '';
  identity = '';
  room = '';
  private state: State = 'new';
  private lastSeen: number;
  private readonly bucket: TokenBucket;
  private timer: NodeJS.Timeout | undefined;
  /** `{"type":"signal","v":1,"from":"<me>","data":` built once at join. */
  private signalPrefix = '';

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
  ) {
    this.lastSeen = ctx.now();
    this.bucket = new TokenBucket(ctx.rateLimit, this.lastSeen);
    this.timer = setTimeout(() => this.onJoinDeadline(), ctx.joinTimeoutMs);
    this.timer.unref();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => this.onClose(code));
    ws.on('error', (error) => ctx.logger.debug({ err: error.message, peerId: this.peerId }, 'socket error'));
  }

  get joined(): boolean {
    return this.state === 'joined';
  }

  /** Writes one frame, dropping a receiver that stopped reading. */
  send(text: string): void {
    const ws = this.ws;
    if (ws.readyState !== OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.ctx.logger.warn(
        { peerId: this.peerId, room: this.room },
        'dropping a client that stopped reading',
      );
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  /** The server is draining: ask the client to go back to the broker. */
  migrate(): void {
    if (this.state === 'joined') this.send(MIGRATE);
  }

  /** Sends the error, then closes with its catalogue close code (or `closeCode`). */
  fail(code: ErrorCode, closeCode: number | null = ErrorCatalogue[code].close, message?: string): void {
    this.sendError(code, null, message);
    if (closeCode !== null) this.end(closeCode, code);
  }

  /** Closes the socket and leaves the room without telling the others it left on purpose. */
  end(closeCode: number, reason: string): void {
    this.detach('disconnected');
    if (this.ws.readyState === OPEN || this.ws.readyState === 0) this.ws.close(closeCode, reason);
  }

  private sendError(
    code: ErrorCode,
    id: string | null,
    message?: string,
    extra?: { retryAfterMs?: number },
  ): void {
    this.send(JSON.stringify(errorMessage(code, id, message, extra)));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'gone') return;
    try {
      const now = this.ctx.now();
      this.lastSeen = now;
      // ws's maxPayload is this route's size limit, so only the rate is checked here.
      const verdict = admitFrame(data, undefined, this.bucket, now);
      if (verdict !== 'ok') {
        if (verdict === 'abuse') this.fail('RATE_LIMITED', CloseCode.RATE_LIMITED);
        else this.sendError('RATE_LIMITED', null, undefined, { retryAfterMs: this.bucket.retryAfterMs() });
        return;
      }
      if (isBinary) {
        this.sendError(BINARY_FRAME.code, null, BINARY_FRAME.message);
        return;
      }
      const raw = frameText(data);
      const ping = PING.exec(raw);
      if (ping !== null) {
        this.send(`{"type":"pong","v":1,"seq":${ping[1]}}`);
        return;
      }
      const result = this.ctx.decoder.decode(raw);
      if (!result.ok) {
        this.sendError(result.code, result.id, result.message);
        return;
      }
      this.dispatch(result.msg);
    } catch (error) {
      this.ctx.logger.error({ err: error, peerId: this.peerId }, 'message handler failed');
      this.fail('INTERNAL');
    }
  }

  private dispatch(msg: MediaInbound): void {
    switch (msg.type) {
      case 'ping':
        this.send(`{"type":"pong","v":1,"seq":${msg.seq}}`);
        return;
      case 'join':
        this.startJoin(msg);
        return;
      case 'signal':
        if (this.requireJoined()) this.relay(msg);
        return;
      case 'leave':
        if (this.requireJoined()) {
          this.detach('left');
          this.ws.close(1000, 'left');
        }
        return;
      default:
        assertNever(msg, 'message');
    }
  }

  /** Anything but `join` before joining ends the connection. */
  private requireJoined(): boolean {
    if (this.state === 'joined') return true;
    this.fail('NOT_JOINED');
    return false;
  }

  private startJoin(msg: Join): void {
    if (this.state !== 'new') {
      this.sendError('ALREADY_JOINED', null);
      return;
    }
    if (this.ctx.isDraining()) {
      this.fail('SERVER_DRAINING');
      return;
    }
    this.join(msg);
  }

  /**
   * Synchronous (the ticket check is one HMAC), so no other message can arrive mid-join: the
   * connection goes from `new` straight to `joined`, or is failed and `gone`.
   */
  private join(msg: Join): void {
    const ctx = this.ctx;
    const seat = ctx.seats.claim(msg.ticket, msg.room);
    if (seat.kind === 'refused') {
      ctx.logger.debug({ code: seat.code }, 'join refused');
      this.fail(seat.code);
      return;
    }
    if (seat.kind === 'claimed') {
      // The seat was counted against capacity when it was confirmed, and is spent now.
      const refusal = ctx.isDraining()
        ? 'SERVER_DRAINING'
        : ctx.rooms.admit(seat.claims.room, seat.claims.sessionId, ctx.capacity);
      if (refusal !== null) {
        this.fail(refusal);
        return;
      }
      this.admitted(seat.claims);
      return;
    }
    if (ctx.requireSeat) {
      const code = ctx.seats.foreignRefusal(msg.ticket) ?? 'TICKET_INVALID';
      ctx.logger.debug({ code }, 'join refused: broker ticket without a seat');
      this.fail(code);
      return;
    }
    let claims: ReturnType<typeof verifyTicket>;
    try {
      claims = verifyTicket(ctx.keys, msg.ticket, ctx.serverId);
    } catch (error) {
      // Another server's seat confirmation reads as an invalid ticket: say which it is.
      const code =
        ctx.seats.foreignRefusal(msg.ticket) ??
        (error instanceof UsherError && error.code.startsWith('TICKET_') ? error.code : 'TICKET_INVALID');
      ctx.logger.debug({ code }, 'join refused');
      this.fail(code);
      return;
    }
    // In this order: a ticket for another room is not spent; any later refusal spends it.
    const refusal: ErrorCode | null =
      msg.room !== undefined && msg.room !== claims.room
        ? 'TICKET_WRONG_ROOM'
        : !ctx.replay.use(claims.jti, claims.exp, ctx.now())
          ? 'TICKET_REPLAYED'
          : ctx.isDraining()
            ? 'SERVER_DRAINING'
            : (ctx.rooms.admit(claims.room, claims.sessionId, ctx.capacity) ??
              (ctx.rooms.get(claims.room, claims.sessionId) === undefined
                ? ctx.seats.unreservedRefusal(claims.room)
                : null));
    if (refusal !== null) {
      this.fail(refusal);
      return;
    }
    this.admitted(claims);
  }

  /** The join passed every check: become a member and tell the room. */
  private admitted(claims: SeatClaims): void {
    const ctx = this.ctx;
    this.room = claims.room;
    this.peerId = claims.sessionId;
    this.name = claims.name;
    this.identity = claims.identity;
    this.signalPrefix = `{"type":"signal","v":1,"from":${JSON.stringify(claims.sessionId)},"data":`;
    this.state = 'joined';
    clearTimeout(this.timer);
    this.lastSeen = ctx.now();
    this.timer = setTimeout(() => this.onIdleCheck(), ctx.idleTimeoutMs);
    this.timer.unref();

    // One identity in a room at a time: another session of it (a second tab, a second device)
    // is replaced, and the others see it leave; the same session reconnecting is handled below.
    const sameIdentity = ctx.rooms.holderOf(this.room, this.identity);
    // (Its end tells the others it left before this one is announced.)
    if (sameIdentity !== undefined && sameIdentity.peerId !== this.peerId)
      sameIdentity.fail(
        'SESSION_REPLACED',
        undefined,
        'the same identity joined this room from another session',
      );
    const previous = ctx.rooms.add(this.room, this);
    // The same session reconnected: the old socket goes quietly (no peer.left), and the
    // peer.joined below tells the others it is back, which is their cue to ICE-restart.
    if (previous !== undefined) previous.fail('SESSION_REPLACED');

    const peers: PeerInfo[] = [];
    for (const member of ctx.rooms.members(this.room)) {
      if (member !== this) peers.push({ peerId: member.peerId, name: member.name });
    }
    this.send(
      JSON.stringify({
        type: 'joined',
        v: 1,
        room: this.room,
        server: { id: ctx.serverId },
        peerId: this.peerId,
        peers,
      }),
    );
    this.broadcast(
      JSON.stringify({ type: 'peer.joined', v: 1, peer: { peerId: this.peerId, name: this.name } }),
    );
    ctx.logger.debug({ room: this.room, peerId: this.peerId, replaced: previous !== undefined }, 'joined');
  }

  private relay(msg: SignalOut): void {
    const target = this.ctx.rooms.get(this.room, msg.to);
    if (target === undefined || target === this) {
      this.sendError('PEER_NOT_FOUND', null);
      return;
    }
    target.send(`${this.signalPrefix}${JSON.stringify(msg.data)}}`);
  }

  private broadcast(text: string): void {
    for (const member of this.ctx.rooms.members(this.room)) if (member !== this) member.send(text);
  }

  private onJoinDeadline(): void {
    if (this.state === 'new') this.fail('JOIN_TIMEOUT');
  }

  private onIdleCheck(): void {
    if (this.state !== 'joined') return;
    const silent = this.ctx.now() - this.lastSeen;
    if (silent >= this.ctx.idleTimeoutMs) {
      this.fail('IDLE_TIMEOUT');
      return;
    }
    this.timer = setTimeout(() => this.onIdleCheck(), this.ctx.idleTimeoutMs - silent);
    this.timer.unref();
  }

  private onClose(code: number): void {
    this.ctx.logger.debug({ peerId: this.peerId, room: this.room, code }, 'connection closed');
    this.detach('disconnected');
  }

  /** Leaves the room (telling the others, if this socket still holds the session) and stops timers. Idempotent. */
  private detach(reason: 'left' | 'disconnected'): void {
    if (this.state === 'gone') return;
    const wasJoined = this.state === 'joined';
    this.state = 'gone';
    clearTimeout(this.timer);
    if (wasJoined && this.ctx.rooms.remove(this.room, this, reason)) {
      this.broadcast(
        `{"type":"peer.left","v":1,"peerId":${JSON.stringify(this.peerId)},"reason":"${reason}"}`,
      );
    }
    this.ctx.onGone(this);
  }
}
