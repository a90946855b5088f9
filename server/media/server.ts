// HTTP + WebSocket wiring of the media server: `/v1/media` upgrades become connections,
// `GET /healthz` reports load, and drain/close walk every live connection.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { createDecoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode } from '../../shared/errors.ts';
import { Limits } from '../../shared/protocol/common.ts';
import type { Capacity } from '../../shared/protocol/control.ts';
import { MediaInbound } from '../../shared/protocol/media.ts';
import { answerClientError, httpTimeouts } from '../common/http-client-error.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { ReplayCache } from '../common/tickets.ts';
import { reloadTls, type TlsSource } from '../common/tls.ts';
import type { RateLimitOptions } from '../common/token-bucket.ts';
import { answerHandshakeErrors, refuseUpgrade } from '../common/ws-handshake.ts';
import { skipLateReceiverEnd, skipLateSocketEnd } from '../common/ws-late-end.ts';
import { MediaConnection } from './connection.ts';
import { identityOf } from './participants.ts';
import type { RoomRegistry } from './rooms.ts';
import type { SeatBook } from './seats.ts';
import { SESSIONS_PATH, SessionEndpoint } from './session-endpoint.ts';

export const MEDIA_PATH = '/v1/media';
/** How long close() waits for clients to answer the close frame before cutting them. */
const CLOSE_HANDSHAKE_MS = 1000;
const MIGRATE_MOVED = '{"type":"migrate","v":1,"reason":"moved"}';

export interface ServerConfig {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly keys: KeyRing;
  readonly logger: Logger;
  readonly capacity: Capacity;
  readonly joinTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly drainGraceMs: number;
  /** An HTTP request (an upgrade included) must have sent its headers within this long. */
  readonly headerTimeoutMs: number;
  readonly rateLimit: RateLimitOptions;
  readonly now: () => number;
  readonly rooms: RoomRegistry<MediaConnection>;
  /** Serve HTTPS/WSS with this certificate; plain when unset. */
  readonly tls?: TlsSource;
  readonly seats: SeatBook;
  /** The public URL clients dial (known once listening): named in redirected sessions' answers. */
  readonly publicUrl: () => string;
  /** Only this server's own seat confirmations admit (broker tickets are refused). */
  readonly requireSeat: boolean;
  /** Draining just started (so the broker hears of it at once). */
  onDraining(): void;
  /** The member is about to be closed by the server API (so its leave is reported as `removed`). */
  onRemoving?(member: MediaConnection): void;
}

export interface ServerHandle {
  readonly port: number;
  stats(): { rooms: number; peers: number; draining: boolean };
  /** The room now lives on another server: its members are asked to go back to the broker. Returns how many. */
  migrateRoom(room: string): number;
  /** Closes every connection in `room` whose identity is `identity` with PARTICIPANT_REMOVED. Returns how many. */
  removeParticipant(room: string, identity: string): number;
  drain(): Promise<void>;
  /** Reads the TLS files again for new connections; false when not TLS or the files are bad. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<ServerHandle> {
  // Every join is a WebSocket that closes again: spare each close ws's discarded error.
  skipLateReceiverEnd();
  const { logger, rooms } = config;
  const connections = new Set<MediaConnection>();
  /** Every open socket, joined or not, until its close event: close() waits for these. */
  const sockets = new Set<WebSocket>();
  let draining = false;
  let closing = false;
  let drainPromise: Promise<void> | undefined;
  let closePromise: Promise<void> | undefined;
  /** Wakes drain() when the last joined peer has gone. */
  let onEmpty: (() => void) | undefined;
  /** Wakes close() when the last socket has finished its close handshake. */
  let onNoSockets: (() => void) | undefined;

  const stats = () => ({ rooms: rooms.roomCount, peers: rooms.peerCount, draining });
  const replay = new ReplayCache();
  const sessionEndpoint = new SessionEndpoint({
    serverId: config.id,
    url: config.publicUrl,
    keys: config.keys,
    seats: config.seats,
    replay,
    now: config.now,
    logger,
  });

  const tls = config.tls;
  const http =
    tls === undefined
      ? createServer(httpTimeouts(config.headerTimeoutMs), (req, res) => handleHttp(req, res))
      : createHttpsServer({ ...httpTimeouts(config.headerTimeoutMs), ...tls.load() }, (req, res) =>
          handleHttp(req, res),
        );
  function handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/healthz') {
      json(res, 200, { status: 'ok', id: config.id, ...stats() });
      return;
    }
    if (path === SESSIONS_PATH) {
      sessionEndpoint.handle(req, res);
      return;
    }
    json(res, 404, errorMessage('NOT_FOUND', null));
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Limits.mediaFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  // Upgrades are routed here rather than by ws's `path`, whose refusal is a bare text/html 400.
  http.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '/').split('?', 1)[0] !== MEDIA_PATH) {
      refuseUpgrade(socket, 'NOT_FOUND', `WebSocket connections go to ${MEDIA_PATH}`);
      return;
    }
    skipLateSocketEnd(socket);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  answerHandshakeErrors(wss, logger);
  const context = {
    serverId: config.id,
    keys: config.keys,
    replay,
    rooms,
    seats: config.seats,
    requireSeat: config.requireSeat,
    decoder: createDecoder(MediaInbound),
    capacity: config.capacity,
    logger,
    now: config.now,
    joinTimeoutMs: config.joinTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    rateLimit: config.rateLimit,
    isDraining: () => draining || closing,
    onGone(connection: MediaConnection) {
      connections.delete(connection);
      if (onEmpty !== undefined && rooms.peerCount === 0) onEmpty();
    },
  };
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.once('close', () => {
      sockets.delete(ws);
      if (sockets.size === 0) onNoSockets?.();
    });
    if (closing) {
      ws.close(CloseCode.GOING_AWAY, 'closing');
      return;
    }
    connections.add(new MediaConnection(ws, context));
  });
  // Without listeners these would be thrown; a bad socket must never take the server down.
  wss.on('error', (error) => logger.error({ err: error }, 'websocket server error'));
  http.on('clientError', (error: Error & { code?: string }, socket) => {
    const code = answerClientError(error, socket);
    if (code !== undefined) logger.debug({ err: error.message, code }, 'bad http request');
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  http.on('error', (error) => logger.error({ err: error }, 'http server error'));
  const port = (http.address() as AddressInfo).port;

  function closeAll(code: number, reason: string): void {
    for (const connection of [...connections]) connection.end(code, reason);
  }

  async function drainNow(): Promise<void> {
    draining = true;
    logger.info({ peers: rooms.peerCount, rooms: rooms.roomCount }, 'draining: asking clients to migrate');
    config.onDraining();
    for (const connection of connections) connection.migrate();
    if (rooms.peerCount > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, config.drainGraceMs);
        onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      onEmpty = undefined;
    }
    const left = rooms.peerCount;
    closeAll(CloseCode.MIGRATE, 'SERVER_DRAINING');
    logger.info({ remaining: left }, 'drained');
  }

  async function closeNow(): Promise<void> {
    closing = true;
    onEmpty?.();
    closeAll(CloseCode.GOING_AWAY, 'closing');
    for (const ws of sockets) if (ws.readyState === ws.CONNECTING) ws.terminate();
    if (sockets.size > 0) {
      // Give clients a moment to answer the close frame, then cut whoever did not.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_HANDSHAKE_MS);
        onNoSockets = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      for (const ws of sockets) ws.terminate();
    }
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }

  function migrateRoom(room: string): number {
    let told = 0;
    for (const member of rooms.members(room)) {
      if (!member.joined) continue;
      member.send(MIGRATE_MOVED);
      told++;
    }
    logger.info({ room, peers: told }, 'room moved: asking its members to migrate');
    return told;
  }

  function removeParticipant(room: string, identity: string): number {
    const removed = [...rooms.members(room)].filter(
      (member) => member.joined && identityOf(member) === identity,
    );
    for (const member of removed) {
      config.onRemoving?.(member);
      member.fail('PARTICIPANT_REMOVED');
    }
    if (removed.length > 0)
      logger.info({ room, peers: removed.length }, 'participant removed by the server API');
    return removed.length;
  }

  return {
    port,
    stats,
    migrateRoom,
    reloadTls: () => tls !== undefined && 'setSecureContext' in http && reloadTls(http, tls, logger),
    removeParticipant,
    drain() {
      drainPromise ??= drainNow();
      return drainPromise;
    },
    close() {
      closePromise ??= closeNow();
      return closePromise;
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
