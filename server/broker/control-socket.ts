// One media server's `/v1/control` WebSocket: `register` (token, URL, capacity, live rooms),
// then a load report on every heartbeat. Silence past the heartbeat timeout — a frozen server
// keeps its socket open — or the socket closing removes the server at once.
import type { WebSocket } from 'ws';
import { type DecodeResult, type Decoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode, ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';
import type { ControlInbound, Register } from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { decodeFrame, type RawFrame } from '../common/frame-admission.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { verifyControlToken } from '../common/tickets.ts';
import type { Fleet } from './fleet.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { MediaServer } from './registry.ts';
import { closeSocket, sendJson } from './ws-util.ts';

/** A connection that has not sent `register` by then is closed. */
export const REGISTER_DEADLINE_MS = 5000;

/** What a control socket needs from the broker; built once by the route. */
export interface ControlSocketContext {
  readonly keys: KeyRing;
  readonly fleet: Fleet;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  readonly decoder: Decoder<ControlInbound>;
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number };
  now(): number;
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

  constructor(
    private readonly socket: WebSocket,
    private readonly ctx: ControlSocketContext,
  ) {
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
    this.ctx.logger.warn({ code }, 'control connection refused');
    sendJson(this.socket, errorMessage(code, null, message));
    closeSocket(this.socket, ErrorCatalogue[code].close ?? CloseCode.BAD_REQUEST, code);
  }

  private readonly logFailure = (error: unknown): void => {
    this.ctx.logger.error({ err: error }, 'control channel handler failed');
  };

  private onMessage(data: RawFrame, isBinary: boolean): void {
    const state = this.state;
    if (state === 'closed' || state === 'verifying') return;
    const decoded: DecodeResult<ControlInbound> = decodeFrame(this.ctx.decoder, data, isBinary);
    if (state === 'awaiting') {
      clearTimeout(this.deadline);
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
    this.ctx.fleet.report(this.server, decoded.msg).catch(this.logFailure);
  }

  private async register(message: Register): Promise<void> {
    const { keys, fleet, heartbeat } = this.ctx;
    try {
      await verifyControlToken(keys, message.token, message.id);
    } catch {
      this.refuse('UNAUTHORIZED');
      return;
    }
    if (this.state !== 'verifying') return; // the socket closed while the token was checked
    if (!isValidServerUrl(message.url)) return this.refuse('BAD_SERVER_URL');
    if (fleet.holds(message.id)) return this.refuse('ID_IN_USE');
    const registered = fleet.register(
      {
        id: message.id,
        url: message.url,
        capacity: message.capacity,
        draining: message.draining,
        now: this.ctx.now(),
      },
      (outbound) => sendJson(this.socket, outbound),
    );
    this.server = registered;
    this.silence = setTimeout(() => {
      void fleet.lose(registered, 'heartbeat-timeout').catch(this.logFailure);
      this.state = 'closed';
      closeSocket(this.socket, CloseCode.IDLE_TIMEOUT, 'heartbeat timeout');
    }, heartbeat.timeoutMs);
    await fleet.restoreRooms(
      registered,
      message.rooms.map((entry) => entry.room),
    );
    if (this.state !== 'verifying') return;
    this.state = 'registered';
    sendJson(this.socket, {
      type: 'registered',
      v: PROTOCOL_VERSION,
      heartbeat: { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs },
    });
  }

  private onClose(): void {
    clearTimeout(this.deadline);
    clearTimeout(this.silence);
    this.state = 'closed';
    if (this.server !== undefined) this.ctx.fleet.lose(this.server, 'control-closed').catch(this.logFailure);
  }
}
