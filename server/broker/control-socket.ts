// One media server's `/v1/control` WebSocket: `register` (token, URL, capacity, live rooms),
// then a load report on every heartbeat. Silence past the heartbeat timeout — a frozen server
// keeps its socket open — or the socket closing removes the server at once.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { type DecodeResult, type Decoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode, ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';
import type { ControlInbound, Register } from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { decodeFrame, frameBytes, type RawFrame } from '../common/frame-admission.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import type { ThrottledLog } from '../common/throttled-log.ts';
import { verifyControlToken } from '../common/tickets.ts';
import { isLoopbackUrl } from '../common/tls.ts';
import { TurnBatch } from '../common/turn-batch.ts';
import type { Fleet } from './fleet.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { MediaServer } from './registry.ts';
import { SeatRequests } from './seat-requests.ts';
import { closeSocket, sendJson } from './ws-util.ts';

/** A connection that has not sent `register` by then is closed. */
export const REGISTER_DEADLINE_MS = 5000;
/**
 * A first frame larger than this is a register whose token is checked before the frame is
 * decoded: it must carry `"id":"…"` and `"token":"…"` written as JSON.stringify writes them
 * (as every media server does), or it is refused UNAUTHORIZED unread. Smaller frames are
 * decoded first, which costs little and gives malformed ones their precise code.
 */
export const TOKEN_FIRST_BYTES = 16 * 1024;

/** What a control socket needs from the broker; built once by the route. */
export interface ControlSocketContext {
  readonly keys: KeyRing;
  readonly fleet: Fleet;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  readonly decoder: Decoder<ControlInbound>;
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number };
  /** Refused registrations are logged through this, at a bounded rate. */
  readonly refusalLog: ThrottledLog;
  now(): number;
  /**
   * True while the broker's own event loop was just stalled (SIGSTOP, thaw): a silence then is
   * the broker's, not the server's. Asking also starts the warm-up when a stall is noticed.
   */
  stalled(): boolean;
  /** A loopback URL is refused: this broker listens publicly, so its clients are not on this machine. */
  readonly refuseLoopbackUrls: boolean;
  /** Called once when the socket has closed. */
  onClosed(socket: ControlSocket): void;
}

/**
 * `awaiting`: no register yet; `verifying`: the token and rooms are being checked (later frames
 * are dropped: a server waits for `registered`); `registered`: reporting load; `closed`: gone.
 */
type State = 'awaiting' | 'verifying' | 'registered' | 'closed';

/** The URL clients will be sent to: ws(s), a host, and never credentials (they would leak to every client). */
export function isValidServerUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'ws:' || url.protocol === 'wss:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === ''
  );
}

export class ControlSocket {
  private state: State = 'awaiting';
  private server: MediaServer | undefined;
  private readonly deadline: NodeJS.Timeout;
  private silence: NodeJS.Timeout | undefined;
  /** The reservations of one event-loop turn leave in one write. */
  private readonly reserveBatch: TurnBatch;
  /** Seat reservations in flight to this server (from registration on). */
  private readonly seats = new SeatRequests((message) => {
    this.reserveBatch.hold();
    sendJson(this.socket, message);
  });

  constructor(
    private readonly socket: WebSocket,
    /** The key this socket is counted under by the connection limits. */
    readonly limitKey: string,
    private readonly ctx: ControlSocketContext,
    /** The TCP (or TLS) stream under the WebSocket. */
    stream: Duplex,
  ) {
    this.reserveBatch = new TurnBatch(stream);
    this.deadline = setTimeout(
      () => this.refuse('NOT_REGISTERED', `no register message within ${REGISTER_DEADLINE_MS / 1000} s`),
      REGISTER_DEADLINE_MS,
    );
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.onClose());
  }

  private refuse(code: ErrorCode, message?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ctx.metrics.controlRejected.inc({ code });
    this.ctx.refusalLog.warn(
      message === undefined ? { code } : { code, why: message },
      'control connection refused',
    );
    sendJson(this.socket, errorMessage(code, null, message));
    closeSocket(this.socket, ErrorCatalogue[code].close ?? CloseCode.BAD_REQUEST, code);
  }

  private readonly logFailure = (error: unknown): void => {
    this.ctx.logger.error({ err: error }, 'control channel handler failed');
  };

  private onMessage(data: RawFrame, isBinary: boolean): void {
    const state = this.state;
    if (state === 'closed' || state === 'verifying') return;
    if (state === 'awaiting') {
      clearTimeout(this.deadline);
      if (!isBinary && frameBytes(data) > TOKEN_FIRST_BYTES) {
        this.state = 'verifying';
        this.registerTokenFirst(data).catch((error: unknown) => {
          this.logFailure(error);
          this.refuse('INTERNAL');
        });
        return;
      }
    }
    const decoded: DecodeResult<ControlInbound> = decodeFrame(this.ctx.decoder, data, isBinary);
    if (state === 'awaiting') {
      if (!decoded.ok) {
        if (decoded.code === 'UNKNOWN_TYPE') this.refuse('NOT_REGISTERED');
        else this.refuse(decoded.code, decoded.message);
        return;
      }
      if (decoded.msg.type !== 'register') {
        this.refuse('NOT_REGISTERED');
        return;
      }
      this.state = 'verifying';
      this.register(decoded.msg).catch((error: unknown) => {
        this.logFailure(error);
        this.refuse('INTERNAL');
      });
      return;
    }
    if (!decoded.ok) {
      sendJson(this.socket, errorMessage(decoded.code, decoded.id, decoded.message));
      return;
    }
    if (decoded.msg.type === 'register' || this.server === undefined) {
      sendJson(this.socket, errorMessage('BAD_MESSAGE', null, 'this connection is already registered'));
      return;
    }
    this.silence?.refresh();
    const message = decoded.msg;
    if (message.type === 'reserved' || message.type === 'refused') {
      // A late answer (its request timed out) is dropped: that seat expires on the server.
      this.seats.answer(message);
      return;
    }
    this.ctx.fleet.report(this.server, message).catch(this.logFailure);
  }

  /** A register small enough to decode first: decoded, then its token checked. */
  private async register(message: Register): Promise<void> {
    if (!(await this.tokenValid(message.token, message.id))) return;
    await this.admit(message);
  }

  /**
   * A large first frame: its token is checked before the room list is decoded, so an
   * unauthenticated client cannot make the broker parse a megabyte per connection.
   */
  private async registerTokenFirst(data: RawFrame): Promise<void> {
    const frame = asBuffer(data);
    const claim = registerClaim(frame);
    if (claim === undefined) {
      this.refuse('UNAUTHORIZED', 'a large register must carry its id and token');
      return;
    }
    const { token, id } = claim;
    if (!(await this.tokenValid(token, id))) return;
    const decoded = decodeFrame(this.ctx.decoder, frame, false);
    if (!decoded.ok) {
      this.refuse(decoded.code === 'UNKNOWN_TYPE' ? 'NOT_REGISTERED' : decoded.code, decoded.message);
      return;
    }
    const message = decoded.msg;
    if (message.type !== 'register') {
      this.refuse('NOT_REGISTERED');
      return;
    }
    // The scan found the token a holder of the secret signed; the decoded message must be the same claim.
    if (message.token !== token || message.id !== id) {
      this.refuse('UNAUTHORIZED');
      return;
    }
    await this.admit(message);
  }

  /** Refuses the connection (UNAUTHORIZED) unless the token proves the secret for `id`; false then. */
  private async tokenValid(token: string, id: string): Promise<boolean> {
    try {
      await verifyControlToken(this.ctx.keys, token, id);
    } catch {
      this.refuse('UNAUTHORIZED');
      return false;
    }
    // The socket may have closed while the token was checked.
    return this.state === 'verifying';
  }

  /** A register whose token was checked: the URL and id, then the server joins the fleet. */
  private async admit(message: Register): Promise<void> {
    const { fleet, heartbeat } = this.ctx;
    if (!isValidServerUrl(message.url)) return this.refuse('BAD_SERVER_URL');
    if (this.ctx.refuseLoopbackUrls && isLoopbackUrl(message.url))
      return this.refuse(
        'BAD_SERVER_URL',
        `${message.id} announces the loopback URL ${message.url}, which remote clients cannot reach: give it --public-host or --public-url`,
      );
    if (fleet.holds(message.id)) return this.refuse('ID_IN_USE');
    const registered = fleet.register(
      {
        id: message.id,
        url: message.url,
        capacity: message.capacity,
        draining: message.draining,
        now: this.ctx.now(),
        ...(message.startedAt === undefined ? {} : { startedAt: message.startedAt }),
      },
      message.rooms,
      (outbound) => sendJson(this.socket, outbound),
      message.members,
      this.seats,
    );
    this.server = registered;
    this.silence = setTimeout(() => this.onSilence(registered), heartbeat.timeoutMs);
    // The registry knows the server's live rooms already: `registered` goes first, and only
    // then may the pins' repair send it a `migrate` (a room another server holds and wins).
    this.state = 'registered';
    sendJson(this.socket, {
      type: 'registered',
      v: PROTOCOL_VERSION,
      heartbeat: { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs },
    });
    await fleet.restoreRooms(
      registered,
      message.rooms.map((entry) => entry.room),
    );
  }

  /** No message for a heartbeat timeout: the server is frozen or cut off, unless the broker was. */
  private onSilence(server: MediaServer): void {
    // After a stall every server looks silent at once: give them a fresh period.
    if (this.ctx.stalled()) {
      this.silence?.refresh();
      return;
    }
    void this.ctx.fleet.lose(server, 'heartbeat-timeout').catch(this.logFailure);
    this.state = 'closed';
    closeSocket(this.socket, CloseCode.IDLE_TIMEOUT, 'heartbeat timeout');
  }

  private onClose(): void {
    clearTimeout(this.deadline);
    clearTimeout(this.silence);
    this.state = 'closed';
    this.seats.close();
    if (this.server !== undefined) {
      // A stall noticed only now (the server gave up on a silent broker) starts the warm-up
      // first, so the loss does not delete pins the reconnecting server will claim again.
      this.ctx.stalled();
      this.ctx.fleet.lose(this.server, 'control-closed').catch(this.logFailure);
    }
    this.ctx.onClosed(this);
  }
}

const TOKEN_KEY = Buffer.from('"token":"');
const ID_KEY = Buffer.from('"id":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The id and token a large register claims, read without decoding it: the first `"id":"…"` and
 * `"token":"…"` as JSON.stringify writes them; undefined when either is missing.
 */
export function registerClaim(frame: Buffer): { id: string; token: string } | undefined {
  const token = quotedValue(frame, TOKEN_KEY, 2048);
  const id = quotedValue(frame, ID_KEY, 256);
  return token === undefined || id === undefined ? undefined : { id, token };
}

function asBuffer(data: RawFrame): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? Buffer.from(data) : data;
}

/** The string after the first `key` (a `"name":"` prefix) up to its closing quote; undefined if absent, escaped or too long. */
function quotedValue(frame: Buffer, key: Buffer, maxBytes: number): string | undefined {
  const at = frame.indexOf(key);
  if (at === -1) return undefined;
  const start = at + key.length;
  const end = frame.indexOf(QUOTE, start);
  if (end === -1 || end - start > maxBytes) return undefined;
  if (frame.subarray(start, end).includes(BACKSLASH)) return undefined;
  return frame.toString('utf8', start, end);
}
