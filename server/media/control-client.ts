// The media server's control channel to one broker: register (with every live room, so a
// restarted broker rebuilds its pins), heartbeat load reports, and reconnect by a ReconnectPolicy.
import WebSocket, { type RawData } from 'ws';
import { assertNever } from '../../shared/assert-never.ts';
import { type Clock, systemClock, type TimerHandle } from '../../shared/clock.ts';
import { createDecoder } from '../../shared/codec.ts';
import { Limits } from '../../shared/protocol/common.ts';
import {
  type Capacity,
  type ControlMemberChange,
  ControlOutbound,
  type ControlParticipant,
  type ControlParticipantLeft,
  type LoadReport,
  MAX_REGISTERED_PARTICIPANTS,
  MAX_REPORTED_CHANGES,
  type Register,
  type Registered,
  type RemoveParticipant,
  type RoomMigrate,
  type SeatRefused,
  type SeatReserve,
  type SeatReserved,
} from '../../shared/protocol/control.ts';
import { JitterBackoffPolicy, type ReconnectPolicy } from '../../shared/reconnect-policy.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { signControlToken } from '../common/tickets.ts';
import { TurnBatch } from '../common/turn-batch.ts';

export interface ControlSnapshot {
  peers: number;
  rooms: number;
  draining: boolean;
  /** Every live room with its peers (for register). */
  roomList(): { room: string; peers: number }[];
  /** Seats confirmed and not yet joined (reported so every broker counts them). */
  seats?: number;
  /** Every member of every live room (for register); none when absent. */
  members?(): ControlParticipant[];
}

export interface ControlClientOptions {
  /** http(s) URL of the broker; the channel is ws(s)://<same host>/v1/control. */
  readonly brokerUrl: string;
  readonly id: string;
  /** This server's public ws URL, announced to the broker. */
  readonly url: string;
  readonly keys: KeyRing;
  readonly logger: Logger;
  readonly capacity: Capacity;
  /** Epoch ms this server process started (sent in register). */
  readonly startedAt?: number;
  /** Current load; called at register time and on every heartbeat. */
  snapshot(): ControlSnapshot;
  /** The broker (an admin) asked this server to drain. */
  onDrain(): void;
  /** The broker moved this room to another server (or another holds it): send its members `migrate`. */
  onMigrateRoom?(room: string, reason: RoomMigrate['reason']): void;
  /** The server API removed a participant (or closed its room): close its connections with PARTICIPANT_REMOVED. */
  onRemoveParticipant?(room: string, identity: string, reason: RemoveParticipant['reason']): void;
  /** A broker asks for a seat; the answer goes back on the same channel. Without it every seat is refused. */
  onReserve?(request: SeatReserve): SeatReserved | SeatRefused;
  /** When to reconnect after the channel is lost; default `new JitterBackoffPolicy(CONTROL_BACKOFF)`. */
  readonly reconnect?: ReconnectPolicy;
  /** No `registered` within this long after `register` ⇒ reconnect. Default 10 000. */
  readonly registerTimeoutMs?: number;
  /** Default the system clock; tests pass a fake one. */
  readonly clock?: Clock;
}

/**
 * A broker that comes back must see its servers again within about a second, however long it
 * was down (until then it treats their rooms as lost): the first retry within 50 ms, then full
 * jitter over 200, 400, 800 ms and at most 1 s, never giving up. Jitter spreads a fleet's
 * servers over that window; a fleet is tens of servers, not the SDK's thousands of clients.
 */
export const CONTROL_BACKOFF = {
  firstWindowMs: 50,
  baseMs: 100,
  maxMs: 1000,
  giveUpAfterMs: Number.POSITIVE_INFINITY,
} as const;

/**
 * connecting → registering (socket open, `register` sent) → registered; any loss → waiting
 * (retry timer) → connecting; close() or a policy that gives up → stopped.
 */
export type ControlClientState = 'connecting' | 'registering' | 'registered' | 'waiting' | 'stopped';

const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 500;
const decoder = createDecoder(ControlOutbound);

/** ws(s)://<broker host>/v1/control for an http(s) broker URL. */
export function controlUrl(brokerUrl: string): string {
  const url = new URL(brokerUrl);
  const scheme = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  return `${scheme}//${url.host}/v1/control`;
}

/** Starts a control client (it connects at once). */
export function createControlClient(options: ControlClientOptions): ControlClient {
  return new ControlClient(options);
}

export class ControlClient {
  private state: ControlClientState = 'connecting';
  private readonly target: string;
  private readonly clock: Clock;
  private readonly reconnect: ReconnectPolicy;
  /** Rooms opened/closed since the last report (the register carries the full list). */
  private readonly opened = new Set<string>();
  private readonly closed = new Set<string>();
  /**
   * Membership changes for the next heartbeat's report, in order; kept only while registering
   * or registered (a register carries every member). A churn of joins costs the broker nothing
   * between heartbeats, however short each membership is.
   */
  private changes: ControlMemberChange[] = [];
  private socket: WebSocket | undefined;
  /** The seat answers of one event-loop turn leave in one write (the socket's TCP stream). */
  private answerBatch: TurnBatch | undefined;
  private timer: TimerHandle | undefined;
  private heartbeat: Registered['heartbeat'] | undefined;
  private lastHeard = 0;
  /** Retries since the channel was last registered, and when that loss began. */
  private attempt = 0;
  private lostAt: number | undefined;
  /** Why the current socket is being ended, when this side ends it. */
  private endReason: string | undefined;

  constructor(private readonly options: ControlClientOptions) {
    this.target = controlUrl(options.brokerUrl);
    this.clock = options.clock ?? systemClock;
    this.reconnect = options.reconnect ?? new JitterBackoffPolicy(CONTROL_BACKOFF);
    this.connect();
  }

  get registered(): boolean {
    return this.state === 'registered';
  }

  get currentState(): ControlClientState {
    return this.state;
  }

  /** A room got its first peer (reported in the next load's `opened`). */
  roomOpened(room: string): void {
    if (!this.closed.delete(room)) this.opened.add(room);
  }

  /** A room emptied (reported in the next load's `closed`). */
  roomClosed(room: string): void {
    if (!this.opened.delete(room)) this.closed.add(room);
  }

  /** A member joined a room here (reported in the next load's `changes`). */
  memberJoined(member: ControlParticipant): void {
    if (this.state !== 'registering' && this.state !== 'registered') return;
    this.changes.push({ event: 'joined', ...member });
    this.bound();
  }

  /** A membership ended (reported in the next load's `changes`, after its join). */
  memberLeft(member: ControlParticipantLeft): void {
    if (this.state !== 'registering' && this.state !== 'registered') return;
    this.changes.push({ event: 'left', ...member });
    this.bound();
  }

  /** Sends a load report now (draining changed). No-op while not registered. */
  reportNow(): void {
    if (this.state === 'registered' && this.socket?.readyState === WebSocket.OPEN) this.sendLoad(this.socket);
  }

  /** Stops reconnecting and closes the channel. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clearTimer();
    const socket = this.socket;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        socket.terminate();
        resolve();
      }, CLOSE_WAIT_MS);
      socket.once('close', () => {
        this.clock.clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1001, 'closing');
    });
  }

  private connect(): void {
    this.timer = undefined;
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    this.endReason = undefined;
    const socket = new WebSocket(this.target, {
      maxPayload: Limits.controlFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.socket = socket;
    this.answerBatch = undefined;
    socket.on('upgrade', (response) => {
      if (socket === this.socket) this.answerBatch = new TurnBatch(response.socket);
    });
    socket.on('open', () => {
      this.register(socket).catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'could not register with broker');
        this.end(socket, 'register-failed');
      });
    });
    socket.on('message', (data) => this.onMessage(socket, data));
    socket.on('pong', () => {
      if (socket === this.socket) this.lastHeard = this.clock.now();
    });
    socket.on('error', (error) => this.options.logger.debug({ err: error.message }, 'control channel error'));
    socket.on('close', (code) => this.onClose(socket, code));
  }

  private async register(socket: WebSocket): Promise<void> {
    if (socket !== this.socket || this.state !== 'connecting') return;
    this.state = 'registering';
    const { options } = this;
    const token = await signControlToken(options.keys, options.id);
    if (socket !== this.socket || socket.readyState !== WebSocket.OPEN) return;
    const snapshot = options.snapshot();
    // The register carries the full room list: deltas start again from here.
    this.opened.clear();
    this.closed.clear();
    const members = snapshot.members?.() ?? [];
    this.changes = members
      .slice(MAX_REGISTERED_PARTICIPANTS)
      .map((member): ControlMemberChange => ({ event: 'joined', ...member }));
    const message: Register = {
      type: 'register',
      v: 1,
      id: options.id,
      url: options.url,
      token,
      capacity: options.capacity,
      ...(options.startedAt === undefined ? {} : { startedAt: options.startedAt }),
      draining: snapshot.draining,
      rooms: snapshot.roomList(),
      ...(snapshot.members === undefined ? {} : { members: members.slice(0, MAX_REGISTERED_PARTICIPANTS) }),
    };
    socket.send(JSON.stringify(message));
    this.setTimer(() => {
      options.logger.warn({ broker: options.brokerUrl }, 'broker did not answer register; reconnecting');
      this.end(socket, 'register-timeout');
    }, options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS);
  }

  private onMessage(socket: WebSocket, data: RawData): void {
    if (socket !== this.socket || this.state === 'stopped') return;
    this.lastHeard = this.clock.now();
    const result = decoder.decode(data.toString());
    if (!result.ok) {
      this.options.logger.warn({ code: result.code }, 'unreadable message from broker');
      return;
    }
    const msg = result.msg;
    switch (msg.type) {
      case 'registered':
        this.onRegistered(socket, msg);
        break;
      case 'drain':
        this.options.logger.info('broker asked this server to drain');
        this.options.onDrain();
        break;
      case 'migrate':
        this.options.onMigrateRoom?.(msg.room, msg.reason);
        break;
      case 'remove':
        this.options.onRemoveParticipant?.(msg.room, msg.identity, msg.reason);
        break;
      case 'reserve': {
        const answer = this.options.onReserve?.(msg) ?? {
          type: 'refused',
          v: 1,
          id: msg.id,
          code: 'SERVER_FULL',
        };
        if (socket.readyState !== WebSocket.OPEN) break;
        this.answerBatch?.hold();
        socket.send(JSON.stringify(answer));
        break;
      }
      case 'error':
        // Only the code: the broker's message might echo what we sent.
        this.options.logger.warn({ code: msg.code }, 'broker refused the control channel; retrying');
        this.end(socket, `refused ${msg.code}`);
        break;
      default:
        assertNever(msg, 'control message');
    }
  }

  private onRegistered(socket: WebSocket, msg: Registered): void {
    if (this.state !== 'registering') {
      this.options.logger.warn({ state: this.state }, 'unexpected registered from broker');
      return;
    }
    this.state = 'registered';
    this.attempt = 0;
    this.lostAt = undefined;
    this.heartbeat = msg.heartbeat;
    this.setTimer(() => this.tick(socket), msg.heartbeat.intervalMs);
    this.options.logger.info({ broker: this.options.brokerUrl }, 'registered with broker');
    // Members beyond the register's share, and joins and leaves while it was answered.
    if (this.changes.length > 0) this.sendLoad(socket);
  }

  private tick(socket: WebSocket): void {
    if (socket !== this.socket || this.state !== 'registered' || this.heartbeat === undefined) return;
    // A closing socket's close event schedules the retry.
    if (socket.readyState !== WebSocket.OPEN) return;
    // The broker sends nothing between requests, so ws pings tell a frozen or cut-off broker.
    if (this.clock.now() - this.lastHeard > this.heartbeat.timeoutMs) {
      this.options.logger.warn({ broker: this.options.brokerUrl }, 'broker stopped answering; reconnecting');
      this.end(socket, 'broker-silent');
      return;
    }
    this.sendLoad(socket);
    socket.ping();
    this.setTimer(() => this.tick(socket), this.heartbeat.intervalMs);
  }

  private sendLoad(socket: WebSocket): void {
    const snapshot = this.options.snapshot();
    let opened = [...this.opened];
    let closed = [...this.closed];
    this.opened.clear();
    this.closed.clear();
    const changes = this.changes;
    this.changes = [];
    // Several reports, in order, when the changes exceed one's bounds.
    let from = 0;
    do {
      const report: LoadReport = {
        type: 'load',
        v: 1,
        peers: snapshot.peers,
        rooms: snapshot.rooms,
        draining: snapshot.draining,
        opened,
        closed,
        ...(changes.length === 0 ? {} : { changes: changes.slice(from, from + MAX_REPORTED_CHANGES) }),
        ...(snapshot.seats === undefined ? {} : { seats: snapshot.seats }),
      };
      opened = [];
      closed = [];
      from += MAX_REPORTED_CHANGES;
      socket.send(JSON.stringify(report));
    } while (from < changes.length);
  }

  /** Changes beyond one report's bounds go at once (while registering, they wait for `registered`). */
  private bound(): void {
    const pending = this.changes.length;
    if (pending < MAX_REPORTED_CHANGES) return;
    if (this.state === 'registered') this.reportNow();
    // A register unanswered under heavy churn: start over with a fresh register (the full list).
    else if (pending > 10 * MAX_REPORTED_CHANGES && this.socket !== undefined)
      this.end(this.socket, 'report-overflow');
  }

  /** Cuts the socket at once; its close event schedules the retry. */
  private end(socket: WebSocket, reason: string): void {
    if (socket !== this.socket) return;
    this.endReason = reason;
    socket.terminate();
  }

  private onClose(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.clearTimer();
    if (this.state === 'stopped') return;
    const wasRegistered = this.state === 'registered';
    const now = this.clock.now();
    this.lostAt ??= now;
    const reason = this.endReason ?? `closed ${code}`;
    const attempt = this.attempt;
    const delay = this.reconnect.nextRetryDelayMs({ attempt, elapsedMs: now - this.lostAt, reason });
    const { logger, brokerUrl } = this.options;
    if (delay === null) {
      this.state = 'stopped';
      logger.error({ broker: brokerUrl, reason, attempts: attempt }, 'giving up on the broker');
      return;
    }
    this.attempt = attempt + 1;
    this.state = 'waiting';
    const fields = { broker: brokerUrl, code, reason, retryInMs: delay };
    if (wasRegistered || attempt === 0) logger.warn(fields, 'control channel to broker closed; reconnecting');
    else logger.debug(fields, 'control channel to broker closed; reconnecting');
    this.setTimer(() => this.connect(), delay);
  }

  /** One timer at a time: register timeout, heartbeat, or retry, by state. */
  private setTimer(fn: () => void, ms: number): void {
    this.clearTimer();
    this.timer = this.clock.setTimeout(fn, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
