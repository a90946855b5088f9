// The media server's control channel to the broker: register (with every live room, so
// a restarted broker rebuilds its pins), heartbeat load reports, and reconnect with backoff.
import WebSocket, { type RawData } from 'ws';
import { createDecoder } from '../../shared/codec.ts';
import { Limits } from '../../shared/protocol/common.ts';
import {
  type Capacity,
  ControlOutbound,
  type LoadReport,
  type Register,
  type RoomMigrate,
} from '../../shared/protocol/control.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { signControlToken } from '../common/tickets.ts';

export interface ControlSnapshot {
  peers: number;
  rooms: number;
  draining: boolean;
  roomList: { room: string; peers: number }[];
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
  /** Current load; called at register time and on every heartbeat. */
  snapshot(): ControlSnapshot;
  /** The broker (an admin) asked this server to drain. */
  onDrain(): void;
  /** The broker moved this room to another server: send its members `migrate`. */
  onMigrateRoom?(room: string, reason: RoomMigrate['reason']): void;
  /** Reconnect delay: full jitter over min(capMs, baseMs·2^attempt). */
  readonly backoff?: { baseMs: number; capMs: number };
  /** No `registered` within this long after `register` ⇒ reconnect. */
  readonly registerTimeoutMs?: number;
  readonly random?: () => number;
}

export interface ControlClient {
  /** A room got its first peer (reported in the next load's `opened`). */
  roomOpened(room: string): void;
  /** A room emptied (reported in the next load's `closed`). */
  roomClosed(room: string): void;
  /** Send a load report now (draining changed). No-op while not registered. */
  reportNow(): void;
  readonly registered: boolean;
  /** Stops reconnecting and closes the channel. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_BACKOFF = { baseMs: 100, capMs: 5000 };
const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 500;
const decoder = createDecoder(ControlOutbound);

/** ws(s)://<broker host>/v1/control for an http(s) broker URL. */
export function controlUrl(brokerUrl: string): string {
  const url = new URL(brokerUrl);
  const scheme = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  return `${scheme}//${url.host}/v1/control`;
}

export function createControlClient(options: ControlClientOptions): ControlClient {
  const { logger } = options;
  const target = controlUrl(options.brokerUrl);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const opened = new Set<string>();
  const closed = new Set<string>();
  let ws: WebSocket | undefined;
  let registered = false;
  let stopped = false;
  let attempt = 0;
  let lastHeard = 0;
  let heartbeat: { intervalMs: number; timeoutMs: number } | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let registerTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  function connect(): void {
    retryTimer = undefined;
    if (stopped) return;
    const socket = new WebSocket(target, {
      maxPayload: Limits.controlFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    ws = socket;
    socket.on('open', () => {
      register(socket).catch((error: unknown) => {
        logger.error({ err: error }, 'could not register with broker');
        socket.terminate();
      });
    });
    socket.on('message', (data) => onMessage(socket, data));
    socket.on('pong', () => {
      lastHeard = Date.now();
    });
    socket.on('error', (error) => logger.debug({ err: error.message }, 'control channel error'));
    socket.on('close', (code) => onClose(socket, code));
  }

  async function register(socket: WebSocket): Promise<void> {
    const token = await signControlToken(options.keys, options.id);
    if (socket !== ws || socket.readyState !== WebSocket.OPEN) return;
    const snapshot = options.snapshot();
    // The register carries the full room list: deltas start again from here.
    opened.clear();
    closed.clear();
    const message: Register = {
      type: 'register',
      v: 1,
      id: options.id,
      url: options.url,
      token,
      capacity: options.capacity,
      draining: snapshot.draining,
      rooms: snapshot.roomList,
    };
    socket.send(JSON.stringify(message));
    registerTimer = setTimeout(() => {
      logger.warn({ broker: options.brokerUrl }, 'broker did not answer register; reconnecting');
      socket.terminate();
    }, options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS);
  }

  function onMessage(socket: WebSocket, data: RawData): void {
    if (socket !== ws) return;
    lastHeard = Date.now();
    const result = decoder.decode(data.toString());
    if (!result.ok) {
      logger.warn({ code: result.code }, 'unreadable message from broker');
      return;
    }
    const msg = result.msg;
    switch (msg.type) {
      case 'registered':
        clearTimeout(registerTimer);
        registered = true;
        attempt = 0;
        heartbeat = msg.heartbeat;
        clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => tick(socket), msg.heartbeat.intervalMs);
        heartbeatTimer.unref();
        logger.info({ broker: options.brokerUrl }, 'registered with broker');
        return;
      case 'drain':
        logger.info('broker asked this server to drain');
        options.onDrain();
        return;
      case 'migrate':
        options.onMigrateRoom?.(msg.room, msg.reason);
        return;
      case 'error':
        // Only the code: the broker's message might echo what we sent.
        logger.warn({ code: msg.code }, 'broker refused the control channel; retrying');
        socket.terminate();
        return;
      default:
        assertNever(msg);
    }
  }

  function tick(socket: WebSocket): void {
    if (socket !== ws || !registered || socket.readyState !== WebSocket.OPEN) return;
    // The broker sends nothing between drains, so ws pings tell a frozen or cut-off broker.
    if (heartbeat !== undefined && Date.now() - lastHeard > heartbeat.timeoutMs) {
      logger.warn({ broker: options.brokerUrl }, 'broker stopped answering; reconnecting');
      socket.terminate();
      return;
    }
    sendLoad(socket);
    socket.ping();
  }

  function sendLoad(socket: WebSocket): void {
    const snapshot = options.snapshot();
    const report: LoadReport = {
      type: 'load',
      v: 1,
      peers: snapshot.peers,
      rooms: snapshot.rooms,
      draining: snapshot.draining,
      opened: [...opened],
      closed: [...closed],
    };
    opened.clear();
    closed.clear();
    socket.send(JSON.stringify(report));
  }

  function onClose(socket: WebSocket, code: number): void {
    if (socket !== ws) return;
    ws = undefined;
    clearTimeout(registerTimer);
    clearInterval(heartbeatTimer);
    const wasRegistered = registered;
    registered = false;
    if (stopped) return;
    const delay = Math.floor(random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt));
    attempt = Math.min(attempt + 1, 30);
    const fields = { broker: options.brokerUrl, code, retryInMs: delay };
    if (wasRegistered || attempt === 1) logger.warn(fields, 'control channel to broker closed; reconnecting');
    else logger.debug(fields, 'control channel to broker closed; reconnecting');
    retryTimer = setTimeout(connect, delay);
  }

  connect();

  return {
    roomOpened(room) {
      if (!closed.delete(room)) opened.add(room);
    },
    roomClosed(room) {
      if (!opened.delete(room)) closed.add(room);
    },
    reportNow() {
      if (ws !== undefined && registered && ws.readyState === WebSocket.OPEN) sendLoad(ws);
    },
    get registered() {
      return registered;
    },
    async close() {
      if (stopped) return;
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(registerTimer);
      clearInterval(heartbeatTimer);
      const socket = ws;
      if (socket === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.terminate();
          resolve();
        }, CLOSE_WAIT_MS);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
        else socket.close(1001, 'closing');
      });
    },
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled control message ${JSON.stringify(value)}`);
}
