// One connection to a media server: join with the ticket, then a ping loop that measures
// RTT and declares the server lost (no pong in time, socket closed, or `migrate`); relays signaling.
import { assertNever } from '../../shared/assert-never.ts';
import type { ErrorMessage } from '../../shared/protocol/common.ts';
import type {
  Joined,
  MediaInbound,
  MediaOutbound,
  PeerInfo,
  PeerLeft,
  SignalData,
} from '../../shared/protocol/media.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { Emitter } from './emitter.ts';
import { UsherClientError } from './errors.ts';
import {
  defaultWebSocket,
  discardSocket,
  parseFrame,
  type WebSocketConstructor,
  type WebSocketLike,
  WS_OPEN,
} from './websocket.ts';

export type LostReason = 'ping-timeout' | 'closed' | 'migrate';

export interface LostEvent {
  reason: LostReason;
  /** Epoch ms of the last pong (or of `joined` when no pong came yet): when the server was last known alive. */
  lastPongAt: number;
  detectedAt: number;
  /** The WebSocket close code, for reason 'closed'. */
  closeCode?: number;
}

export type MediaConnectionEvents = {
  rtt: (ms: number) => void;
  lost: (event: LostEvent) => void;
  signal: (from: string, data: SignalData) => void;
  'peer.joined': (peer: PeerInfo) => void;
  'peer.left': (peerId: string, reason: PeerLeft['reason']) => void;
  /** A non-fatal error the server answered (e.g. PEER_NOT_FOUND for a signal). */
  error: (error: UsherClientError) => void;
};

export interface MediaConnectionOptions {
  url: string;
  ticket: string;
  room?: string;
  ping: { intervalMs: number; timeoutMs: number };
  WebSocket?: WebSocketConstructor;
  clock?: Clock;
  /** From opening the socket to `joined`; default max(5000, ping.timeoutMs). */
  joinTimeoutMs?: number;
}

const OUTBOUND_TYPES: ReadonlySet<string> = new Set<MediaOutbound['type']>([
  'joined',
  'pong',
  'signal',
  'peer.joined',
  'peer.left',
  'migrate',
  'error',
]);

/** Pings kept for RTT matching; older ones are forgotten (their pongs still count as alive). */
const MAX_OUTSTANDING_PINGS = 32;

type Phase = 'new' | 'joining' | 'joined' | 'ended';

export class MediaConnection extends Emitter<MediaConnectionEvents> {
  readonly #options: MediaConnectionOptions;
  readonly #clock: Clock;
  readonly #WebSocket: WebSocketConstructor;
  readonly #sentAt = new Map<number, number>();
  #socket: WebSocketLike | null = null;
  #phase: Phase = 'new';
  #seq = 0;
  #lastPongAt = 0;
  #pingTimer: TimerHandle | null = null;
  #deadlineTimer: TimerHandle | null = null;
  #lastRtt: number | null = null;
  /** Rejects a pending open() (leave/close while joining). */
  #abortOpen: ((error: UsherClientError) => void) | null = null;

  constructor(options: MediaConnectionOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#WebSocket = options.WebSocket ?? defaultWebSocket();
  }

  get lastRttMs(): number | null {
    return this.#lastRtt;
  }

  get lastPongAt(): number {
    return this.#lastPongAt;
  }

  /** Connect and join; resolves with `joined`, rejects with an UsherClientError. */
  open(): Promise<Joined> {
    if (this.#phase !== 'new') return Promise.reject(UsherClientError.badReply('connection already opened'));
    this.#phase = 'joining';
    const timeoutMs = this.#options.joinTimeoutMs ?? Math.max(5000, this.#options.ping.timeoutMs);
    return new Promise<Joined>((resolve, reject) => {
      const fail = (error: UsherClientError): void => {
        this.#clock.clearTimeout(joinTimer);
        this.#abortOpen = null;
        this.#end();
        reject(error);
      };
      this.#abortOpen = fail;
      const joinTimer = this.#clock.setTimeout(
        () => fail(UsherClientError.timeout('media join', timeoutMs)),
        timeoutMs,
      );
      let socket: WebSocketLike;
      try {
        socket = new this.#WebSocket(this.#options.url);
      } catch (error) {
        fail(UsherClientError.mediaUnreachable(String(error)));
        return;
      }
      this.#socket = socket;
      socket.onopen = () => {
        const join: MediaInbound = { type: 'join', v: PROTOCOL_VERSION, ticket: this.#options.ticket };
        if (this.#options.room !== undefined) join.room = this.#options.room;
        this.#send(join);
      };
      socket.onerror = () => {
        // The close event that follows carries the code.
      };
      socket.onclose = (event) => {
        if (this.#phase === 'joining') {
          fail(UsherClientError.mediaUnreachable(`closed before joined (close ${event.code})`, event.code));
        } else {
          this.#lose({ reason: 'closed', closeCode: event.code });
        }
      };
      socket.onmessage = (event) => {
        const msg = parseFrame(event.data);
        if (msg === null || !OUTBOUND_TYPES.has(msg.type)) return;
        const typed = msg as unknown as MediaOutbound;
        if (this.#phase === 'joining') {
          if (typed.type === 'joined') {
            this.#clock.clearTimeout(joinTimer);
            this.#abortOpen = null;
            this.#phase = 'joined';
            this.#startPinging();
            resolve(typed);
          } else if (typed.type === 'error') {
            fail(UsherClientError.fromWire(typed));
          } else if (typed.type === 'migrate') {
            fail(new UsherClientError('SERVER_DRAINING', 'server is draining'));
          }
          return;
        }
        if (this.#phase === 'joined') this.#dispatch(typed);
      };
    });
  }

  signal(to: string, data: SignalData): boolean {
    return this.#send({ type: 'signal', v: PROTOCOL_VERSION, to, data });
  }

  /** Say goodbye (peers close their calls with us) and close. */
  leave(): void {
    if (this.#phase === 'joined') this.#send({ type: 'leave', v: PROTOCOL_VERSION });
    this.#end();
  }

  /** Close without `leave`: the server tells peers we disconnected (they keep the call). */
  close(): void {
    this.#end();
  }

  #dispatch(msg: MediaOutbound): void {
    switch (msg.type) {
      case 'pong':
        this.#onPong(msg.seq);
        return;
      case 'signal':
        this.emit('signal', msg.from, msg.data);
        return;
      case 'peer.joined':
        this.emit('peer.joined', msg.peer);
        return;
      case 'peer.left':
        this.emit('peer.left', msg.peerId, msg.reason);
        return;
      case 'migrate':
        this.#lose({ reason: 'migrate' });
        return;
      case 'error':
        this.#onError(msg);
        return;
      case 'joined':
        return; // Only the first one means anything.
      default:
        assertNever(msg, 'media server message');
    }
  }

  #onError(msg: ErrorMessage): void {
    this.emit('error', UsherClientError.fromWire(msg));
  }

  #startPinging(): void {
    // Joining proves the server alive: the pong deadline starts here.
    this.#lastPongAt = this.#clock.now();
    this.#armDeadline();
    this.#ping();
  }

  #ping(): void {
    if (this.#phase !== 'joined') return;
    this.#seq += 1;
    this.#sentAt.set(this.#seq, this.#clock.now());
    if (this.#sentAt.size > MAX_OUTSTANDING_PINGS) {
      const oldest = this.#sentAt.keys().next().value;
      if (oldest !== undefined) this.#sentAt.delete(oldest);
    }
    this.#send({ type: 'ping', seq: this.#seq });
    this.#pingTimer = this.#clock.setTimeout(() => this.#ping(), this.#options.ping.intervalMs);
  }

  #onPong(seq: number): void {
    const now = this.#clock.now();
    this.#lastPongAt = now;
    this.#armDeadline();
    const sentAt = this.#sentAt.get(seq);
    if (sentAt === undefined) return;
    for (const key of this.#sentAt.keys()) {
      if (key > seq) break;
      this.#sentAt.delete(key);
    }
    this.#lastRtt = now - sentAt;
    this.emit('rtt', this.#lastRtt);
  }

  /** The deadline runs from the last pong, not the last ping: a frozen server keeps its socket
   *  open and accepts our pings into its buffers, so only missing pongs reveal it. */
  #armDeadline(): void {
    if (this.#deadlineTimer !== null) this.#clock.clearTimeout(this.#deadlineTimer);
    const remaining = this.#lastPongAt + this.#options.ping.timeoutMs - this.#clock.now();
    this.#deadlineTimer = this.#clock.setTimeout(
      () => this.#lose({ reason: 'ping-timeout' }),
      Math.max(0, remaining),
    );
  }

  #lose(details: { reason: LostReason; closeCode?: number }): void {
    if (this.#phase !== 'joined') return;
    const event: LostEvent = { ...details, lastPongAt: this.#lastPongAt, detectedAt: this.#clock.now() };
    // A frozen server would never finish the close handshake: detach and move on. (Browsers only
    // let a client close with 1000 or 3000-4999.)
    this.#end();
    this.emit('lost', event);
  }

  #send(msg: MediaInbound): boolean {
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WS_OPEN) return false;
    try {
      socket.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  #end(): void {
    const abortOpen = this.#abortOpen;
    if (abortOpen !== null) {
      this.#abortOpen = null;
      abortOpen(UsherClientError.aborted());
      return; // fail() ends the connection itself (re-entering here with no open pending).
    }
    this.#phase = 'ended';
    if (this.#pingTimer !== null) this.#clock.clearTimeout(this.#pingTimer);
    if (this.#deadlineTimer !== null) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#pingTimer = null;
    this.#deadlineTimer = null;
    this.#sentAt.clear();
    if (this.#socket !== null) discardSocket(this.#socket, 1000);
    this.#socket = null;
  }
}
