// The broker: one Fastify app that assigns media servers to rooms (WS `/v1/session`,
// `POST /v1/sessions`), keeps the fleet's registry (WS `/v1/control`) and serves
// health, metrics, the admin API and the web app. Everything it needs is passed in.
import type { AddressInfo } from 'node:net';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { WebSocket } from 'ws';
import { CloseCode } from '../../shared/errors.ts';
import { Limits } from '../../shared/protocol/common.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import type { TurnConfig } from '../common/turn.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { Assigner } from './assignment.ts';
import { registerControlRoute } from './control-route.ts';
import { Fleet } from './fleet.ts';
import { clientErrorHandler, errorHandler, RequestError } from './http-errors.ts';
import { createBrokerMetrics } from './metrics.ts';
import { createOriginPolicy } from './origin.ts';
import { MemoryPinStore, type PinStore } from './pin-store.ts';
import { ServerRegistry } from './registry.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { createSessionService } from './sessions.ts';
import { registerStaticSite } from './static-site.ts';

export type { PinStore } from './pin-store.ts';
export { MemoryPinStore } from './pin-store.ts';

export interface BrokerOptions {
  host?: string;
  port: number;
  keys: KeyRing;
  logger: Logger;
  /** Built web app (dist/web), served at `/` with index.html fallback; skipped when missing. */
  staticDir?: string;
  /** Client ping settings handed out with every session. */
  ping?: { intervalMs: number; timeoutMs: number };
  /** Media load-report period and the silence after which a server is dropped. */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  ticketTtlSeconds?: number;
  iceServers?: { stunUrls?: string[]; turn?: TurnConfig };
  /** Bearer token for /admin/v1/*; undefined ⇒ those routes answer 404. */
  adminToken?: string;
  /** Take client.address from X-Forwarded-For. */
  trustProxy?: boolean;
  /** Browser Origin allowlist for the session endpoints; undefined ⇒ any. */
  allowedOrigins?: string[];
  now?: () => number;
  /** Room pin store; in memory by default (a shared one lets several brokers agree). */
  pins?: PinStore;
}

export interface Broker {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export const DEFAULT_PING = { intervalMs: 1000, timeoutMs: 2500 } as const;
export const DEFAULT_HEARTBEAT = { intervalMs: 1000, timeoutMs: 3000 } as const;
export const DEFAULT_TICKET_TTL_SECONDS = 30;
/** Open sockets get this long to finish their close handshake when the broker stops. */
const CLOSE_WAIT_MS = 1000;

/** Resolves once the broker is listening. */
export async function createBroker(options: BrokerOptions): Promise<Broker> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT;
  const ticketTtlSeconds = options.ticketTtlSeconds ?? DEFAULT_TICKET_TTL_SECONDS;
  const trustProxy = options.trustProxy ?? false;
  const pins = options.pins ?? new MemoryPinStore();
  const registry = new ServerRegistry();

  const metrics = createBrokerMetrics({
    healthyServers: () => registry.healthyCount(),
    pinnedRooms: () => pins.size(),
  });
  const assigner = new Assigner({
    registry,
    pins,
    now,
    ticketTtlMs: ticketTtlSeconds * 1000,
    onMove: (move) => {
      logger.info(move, 'room moved');
      metrics.roomMoves.inc({ reason: move.reason });
    },
  });
  const fleet = new Fleet({ registry, assigner, logger, metrics, now });
  const sessions = createSessionService({
    keys: options.keys,
    assigner,
    ping: options.ping ?? DEFAULT_PING,
    ticketTtlSeconds,
    iceServers: options.iceServers ?? {},
    now,
  });
  const originAllowed = createOriginPolicy(options.allowedOrigins);

  const app = Fastify({
    // Widened to Fastify's logger type so the app is a plain FastifyInstance for route modules.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request would drown the failover lines; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy,
    bodyLimit: Limits.brokerFrameBytes,
    // Fastify's own 503 while closing, and its malformed-HTTP answer, have its error shape, not ours.
    return503OnClosing: false,
    clientErrorHandler,
  });
  const stopped: Array<() => void> = [];
  try {
    app.setErrorHandler(errorHandler(logger));
    // One parser for every content type: browsers may POST text/plain to skip a CORS preflight.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(new RequestError('BAD_JSON', null), undefined);
      }
    });

    await app.register(fastifyWebsocket, {
      // One ws server serves both socket routes, so it takes the larger (control) limit;
      // the session route enforces its own 4 KiB limit with a FRAME_TOO_LARGE reply.
      options: { maxPayload: Limits.controlFrameBytes },
      errorHandler: (error, socket) => {
        // Protocol errors (oversized or malformed frames): ws has already sent a close code.
        logger.debug({ code: (error as { code?: string }).code }, 'websocket error');
        socket.terminate();
      },
      preClose: async () => {
        fleet.stop();
        await closeSockets(app.websocketServer.clients);
        app.websocketServer.close();
      },
    });

    app.get('/healthz', async () => ({
      status: 'ok',
      servers: registry.healthyCount(),
      rooms: await pins.size(),
    }));
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
    stopped.push(
      registerSessionRoutes(app, {
        sessions,
        metrics,
        logger,
        originAllowed,
        anyOrigin: options.allowedOrigins === undefined,
        trustProxy,
      }),
    );
    registerControlRoute(app, {
      keys: options.keys,
      fleet,
      metrics,
      logger,
      heartbeat,
      now,
      originAllowed,
    });
    if (options.adminToken !== undefined && options.adminToken !== '')
      registerAdminRoutes(app, { token: options.adminToken, registry, pins, fleet, now });
    await registerStaticSite(app, options.staticDir);

    await app.listen({ host, port: options.port, listenTextResolver: () => 'http server listening' });
  } catch (error) {
    for (const stop of stopped) stop();
    await app.close();
    throw error;
  }

  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'broker listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    close() {
      closing ??= (async () => {
        for (const stop of stopped) stop();
        await app.close();
      })();
      return closing;
    },
  };
}

/** Tell every socket the broker is going away, and cut those that do not answer in time. */
async function closeSockets(clients: Set<WebSocket>): Promise<void> {
  const open = [...clients];
  for (const socket of open) socket.close(CloseCode.GOING_AWAY, 'broker shutting down');
  const closed = Promise.all(
    open.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === socket.CLOSED) resolve();
          else socket.once('close', () => resolve());
        }),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
  });
  await Promise.race([closed, timeout]);
  clearTimeout(timer);
  for (const socket of open) if (socket.readyState !== socket.CLOSED) socket.terminate();
}
