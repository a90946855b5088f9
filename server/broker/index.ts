// The broker: one Fastify app that assigns media servers to rooms (WS `/v1/session`,
// `POST /v1/sessions`), keeps the fleet's registry (WS `/v1/control`) and serves
// health, metrics, the admin API and the web app. Everything it needs is passed in.
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { Limits } from '../../shared/protocol/common.ts';
import { UsherConfigError } from '../common/config-error.ts';
import type { ApiKeys } from '../common/join-token.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { DEFAULT_REDIRECT_GRANT_TTL_MS } from '../common/redirect-grant.ts';
import { isLoopbackHost, reloadTls, type TlsSource } from '../common/tls.ts';
import type { RateLimitOptions } from '../common/token-bucket.ts';
import type { TurnConfig } from '../common/turn.ts';
import { skipLateReceiverEnd } from '../common/ws-late-end.ts';
import { bearerMatches, registerAdminRoutes } from './admin-routes.ts';
import { Assigner } from './assignment.ts';
import {
  ConnectionCounter,
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  defaultMaxSessionSockets,
  openFileLimit,
} from './connection-limits.ts';
import { registerControlRoute } from './control-route.ts';
import { registerDevTokenRoute } from './dev-token-route.ts';
import { Fleet } from './fleet.ts';
import { FleetWebhooks } from './fleet-webhooks.ts';
import { clientErrorCode, clientErrorHandler, errorHandler, RequestError, sendError } from './http-errors.ts';
import { registerCors, registerEmbedConfigRoute, registerSecurityHeaders } from './http-guards.ts';
import { DEFAULT_IP_BUDGET, IpBudget, type IpBudgetOptions } from './ip-budget.ts';
import { createBrokerMetrics } from './metrics.ts';
import { allowsAnyOrigin, createOriginPolicy } from './origin.ts';
import { MemoryPinStore, type PinStore } from './pin-store.ts';
import { ServerRegistry } from './registry.ts';
import { registerServerApiRoutes } from './server-api-routes.ts';
import { createSessionRedirects } from './session-redirect.ts';
import {
  DEFAULT_SESSION_SOCKET_LIMIT,
  registerSessionRoutes,
  SESSION_SOCKET_MAX_PAYLOAD,
} from './session-routes.ts';
import {
  type BrokerAuth,
  createSessionService,
  DEFAULT_SEAT_TIMEOUT_MS,
  DEFAULT_SEAT_WINDOW_MS,
} from './sessions.ts';
import { StallWatch } from './stall-watch.ts';
import { registerStaticSite } from './static-site.ts';
import { routeUpgrades, type SocketRoute, type UpgradeRouter } from './upgrades.ts';
import { WarmUp } from './warm-up.ts';
import { MemoryWebhookOnceStore, type WebhookOnceStore } from './webhook-once.ts';
import { createWebhookCounter, WebhookDispatcher, type WebhookDispatcherOptions } from './webhooks.ts';

export type { PinStore } from './pin-store.ts';
export { MemoryPinStore } from './pin-store.ts';
export type { BrokerAuth } from './sessions.ts';

export interface BrokerOptions {
  host?: string;
  port: number;
  keys: KeyRing;
  /**
   * Room admission, always explicit: `{ mode: 'token', apiKeys }` admits only with a join token
   * signed by one of the application's API keys (or a resume proof); `{ mode: 'open' }` admits
   * anyone to any room and logs a warning saying so.
   */
  auth: BrokerAuth;
  /**
   * In token mode, a room moves off a healthy server on members' `exclude` at most once per
   * this long (default 5000 ms).
   */
  memberMoveIntervalMs?: number;
  /**
   * Serve `POST /dev/token {room, name}` → `{token}`, signing join tokens for anyone with the
   * first API key: for the local stack only (token mode; logs a warning).
   */
  devTokenEndpoint?: boolean;
  logger: Logger;
  /** Built web app (dist/web), served at `/` with index.html fallback; skipped when missing. */
  staticDir?: string;
  /** Client ping settings handed out with every session. */
  ping?: { intervalMs: number; timeoutMs: number };
  /** Media load-report period and the silence after which a server is dropped. */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  ticketTtlSeconds?: number;
  /**
   * How long after it was signed a ticket still proves its session on failover (`resume`):
   * a failover later than this keeps the room but gets a new session id.
   */
  resumeTtlSeconds?: number;
  iceServers?: { stunUrls?: string[]; turn?: TurnConfig };
  /** Bearer token for /admin/v1/*; undefined ⇒ those routes answer 404. */
  adminToken?: string;
  /** Bearer token for /metrics; undefined ⇒ /metrics is open (scrape it from a private network). */
  metricsToken?: string;
  /**
   * Take client.address (and the rate-limit key) from X-Forwarded-For, as added by this many
   * proxies in front (true = 1). Never "trust all": the left-most entry is the client's to forge.
   */
  trustProxy?: boolean | number;
  /** Browser origins allowed on the session endpoints besides the broker's own; `*` ⇒ any. */
  allowedOrigins?: string[];
  /**
   * Session requests per client address, over HTTP and WebSocket together (default 600/min,
   * burst 600); false ⇒ no per-address budget and no per-socket frame limit (benchmarks, or
   * a proxy in front that limits).
   */
  rateLimit?: Partial<Pick<IpBudgetOptions, 'perMinute' | 'burst' | 'maxAddresses'>> | false;
  /** Frame limit of one `/v1/session` WebSocket (default 50 at once, 10/s, closed 200 past it). */
  sessionSocketLimit?: Partial<RateLimitOptions>;
  /** Open WebSockets and HTTP timeouts (docs/SECURITY.md); each field has a default. */
  connectionLimits?: Partial<ConnectionLimits>;
  now?: () => number;
  /** Room pin store; in memory by default (a shared one lets several brokers agree). */
  pins?: PinStore;
  /**
   * After start, a stall of the event loop or the store's reconnect: how long media servers get
   * to (re)register before their rooms may move (default: the heartbeat timeout; 0: none).
   */
  warmUpMs?: number;
  /** Serve HTTPS/WSS with this certificate (reloaded by `reloadTls()`); plain HTTP when unset. */
  tls?: TlsSource;
  /**
   * A broker listening on a non-loopback address refuses (BAD_SERVER_URL) a media server that
   * announces a loopback URL, which no remote client could reach; true lets it (tests only).
   */
  allowLoopbackMedia?: boolean;
  /**
   * The application's API keys (USHER_API_KEYS) when admission is open: they sign webhooks (the
   * first, current key) and authenticate the server API (`/v1/rooms`, which answers 404
   * without them). In token mode the keys of `auth` serve, and this must be unset or the same.
   */
  apiKeys?: ApiKeys;
  /** Webhook targets (http(s) URLs); needs apiKeys. */
  webhookUrls?: readonly string[];
  /** Webhook claims shared by the brokers (Redis with --redis-url); in memory by default. */
  webhookOnce?: WebhookOnceStore;
  /** Delivery tuning (tests, benchmarks); each has a default in webhooks.ts. */
  webhookDelivery?: Partial<
    Pick<
      WebhookDispatcherOptions,
      'maxQueued' | 'retryForMs' | 'initialBackoffMs' | 'maxBackoffMs' | 'requestTimeoutMs' | 'maxInFlight'
    >
  >;
  /**
   * Server-confirmed seats: before answering, ask the assigned server to hold a seat and put its
   * signed confirmation in the reply (docs/ARCHITECTURE.md "Server-confirmed seats"). Off unless
   * given (the CLI turns it on by default); `timeoutMs` default 250, `windowMs` default 15 000.
   */
  seatConfirm?: { timeoutMs?: number; windowMs?: number };
  /** A lost media server's members count as left after this long unless it re-registers (default 10 s). */
  lostMemberGraceMs?: number;
}

export interface Broker {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** Reads the TLS files again for new connections (SIGHUP); false when not TLS or the files are bad. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

export const DEFAULT_PING = { intervalMs: 1000, timeoutMs: 2500 } as const;
export const DEFAULT_HEARTBEAT = { intervalMs: 1000, timeoutMs: 3000 } as const;
export const DEFAULT_TICKET_TTL_SECONDS = 30;
export const DEFAULT_RESUME_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_MEMBER_MOVE_INTERVAL_MS = 5000;
/** Open sockets get this long to finish their close handshake when the broker stops. */
const CLOSE_WAIT_MS = 1000;

/** Resolves once the broker is listening. */
export async function createBroker(options: BrokerOptions): Promise<Broker> {
  // A browser opens (and closes) a session WebSocket per join: spare each close ws's discarded error.
  skipLateReceiverEnd();
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT;
  const ticketTtlSeconds = options.ticketTtlSeconds ?? DEFAULT_TICKET_TTL_SECONDS;
  const proxyHops =
    options.trustProxy === true ? 1 : options.trustProxy === false ? 0 : (options.trustProxy ?? 0);
  const pins: PinStore = options.pins ?? new MemoryPinStore();
  // With confirmed seats a session that never came is released by its server after the seat
  // window, and its reports say so: the estimate need not hold it for a whole ticket TTL.
  const registry = new ServerRegistry({
    pendingTtlMs:
      options.seatConfirm === undefined
        ? ticketTtlSeconds * 1000
        : Math.min(ticketTtlSeconds * 1000, options.seatConfirm.windowMs ?? DEFAULT_SEAT_WINDOW_MS),
  });
  const auth = options.auth;
  if (auth.mode === 'open')
    logger.warn(
      { auth: 'open' },
      'AUTH IS OPEN: anyone may join any room and move it; use token mode (USHER_API_KEYS) in front of users',
    );
  if (options.devTokenEndpoint === true && auth.mode !== 'token')
    throw new UsherConfigError('the dev token endpoint needs token mode');

  const metrics = createBrokerMetrics({
    healthyServers: () => registry.healthyCount(),
    pinnedRooms: () => pins.size(),
  });
  if (auth.mode === 'token' && options.apiKeys !== undefined && options.apiKeys !== auth.apiKeys)
    throw new UsherConfigError('token mode takes its API keys from auth; pass apiKeys only in open mode');
  // One set of keys: join tokens, webhook signatures and the server API.
  const apiKeys = auth.mode === 'token' ? auth.apiKeys : options.apiKeys;
  const webhookUrls = options.webhookUrls ?? [];
  if (webhookUrls.length > 0 && apiKeys === undefined)
    throw new UsherConfigError('webhook URLs need API keys (USHER_API_KEYS) to sign the webhooks');
  const webhookOnce = options.webhookOnce ?? new MemoryWebhookOnceStore(now);
  const dispatcher =
    webhookUrls.length === 0 || apiKeys === undefined
      ? undefined
      : new WebhookDispatcher({
          urls: webhookUrls,
          key: apiKeys.current,
          once: webhookOnce,
          counter: createWebhookCounter(metrics.registry),
          logger,
          now,
          ...definedOnly(options.webhookDelivery ?? {}),
        });
  const webhooks = dispatcher === undefined ? undefined : new FleetWebhooks(dispatcher, registry);
  const warmUp = new WarmUp({
    durationMs: options.warmUpMs ?? heartbeat.timeoutMs,
    onEnd: () => logger.info({ servers: registry.healthyCount() }, 'warm-up over'),
  });
  warmUp.start();
  const assigner = new Assigner({
    registry,
    pins,
    now,
    ticketTtlMs: ticketTtlSeconds * 1000,
    warmUp,
    onMove: (move, at) => {
      logger.info(move, 'room moved');
      metrics.roomMoves.inc({ cause: move.cause });
      webhooks?.moved({ ...move, at });
    },
    onRepair: (cause, count) => metrics.pinRepairs.inc({ cause }, count),
    onSplit: (split) => {
      logger.info(split, 'room split detected');
      metrics.splitsDetected.inc();
    },
    onSplitRepaired: (room, server) => {
      logger.info({ room, server }, 'room split repaired');
      metrics.splitsRepaired.inc();
    },
    migrate: (server, room, reason) => fleet.migrateRoom(server, room, reason),
    // Open mode keeps the old rule: any exclude is honoured at once.
    memberMoveIntervalMs:
      auth.mode === 'token' ? (options.memberMoveIntervalMs ?? DEFAULT_MEMBER_MOVE_INTERVAL_MS) : 0,
    onExcludeIgnored: (room, reason) => {
      logger.info({ room, reason }, 'exclude of the room server ignored');
      metrics.excludesIgnored.inc({ reason });
    },
  });
  const fleet = new Fleet({
    registry,
    assigner,
    logger,
    metrics,
    now,
    warmUp,
    ...(webhooks === undefined ? {} : { webhooks }),
    ...(options.lostMemberGraceMs === undefined ? {} : { lostMemberGraceMs: options.lostMemberGraceMs }),
  });
  const stallWatch = new StallWatch({
    tickMs: Math.max(50, Math.floor(heartbeat.intervalMs / 4)),
    thresholdMs: heartbeat.intervalMs,
    graceMs: heartbeat.timeoutMs,
    now,
    onStall: (stalledMs) => {
      // Media servers get a fresh heartbeat period and a warm-up to re-register.
      logger.warn({ stalledMs }, 'broker event loop stalled');
      warmUp.start();
    },
  });
  pins.onFailure?.((op, kind) => metrics.storeFailures.inc({ op, kind }));
  pins.onReconnect?.(() => {
    warmUp.start();
    fleet.storeReconnected().catch((error: unknown) => logger.error({ err: error }, 're-pinning failed'));
  });
  const sessionOptions = {
    keys: options.keys,
    auth,
    assigner,
    ping: options.ping ?? DEFAULT_PING,
    ticketTtlSeconds,
    resumeTtlSeconds: options.resumeTtlSeconds ?? DEFAULT_RESUME_TTL_SECONDS,
    iceServers: options.iceServers ?? {},
    now,
  };
  const sessions = createSessionService({
    ...sessionOptions,
    ...(options.seatConfirm === undefined
      ? {}
      : {
          seats: {
            reserve: (server, request, timeoutMs) => fleet.reserveSeat(server, request, timeoutMs),
            registry,
            metrics,
            timeoutMs: options.seatConfirm.timeoutMs ?? DEFAULT_SEAT_TIMEOUT_MS,
            windowMs: options.seatConfirm.windowMs ?? DEFAULT_SEAT_WINDOW_MS,
            onUnconfirmed: (server, room, outcome) =>
              logger.info(
                { id: server.id, room, outcome: outcome.kind === 'refused' ? outcome.code : outcome.kind },
                'media server did not confirm a seat',
              ),
          },
        }),
  });
  const redirects = createSessionRedirects({
    keys: options.keys,
    sessions: options.seatConfirm === undefined ? sessions : createSessionService(sessionOptions),
    grantTtlMs: DEFAULT_REDIRECT_GRANT_TTL_MS,
    now,
  });
  const originAllowed = createOriginPolicy(options.allowedOrigins);
  const budget =
    options.rateLimit === false
      ? undefined
      : new IpBudget({ ...DEFAULT_IP_BUDGET, ...definedOnly(options.rateLimit ?? {}), now });
  const socketLimit =
    options.rateLimit === false
      ? undefined
      : { ...DEFAULT_SESSION_SOCKET_LIMIT, ...definedOnly(options.sessionSocketLimit ?? {}) };
  const metricsToken = options.metricsToken === '' ? undefined : options.metricsToken;
  const fileLimit = openFileLimit();
  const limits: ConnectionLimits = {
    ...DEFAULT_CONNECTION_LIMITS,
    maxSessionSockets: defaultMaxSessionSockets(fileLimit),
    ...definedOnly(options.connectionLimits ?? {}),
  };
  // Without a per-address budget (a limiting proxy in front, or a benchmark's one load generator)
  // there are no per-address connection caps either; the total cap and the idle rule stay.
  const perAddress = (limit: number): number =>
    options.rateLimit === false ? Number.POSITIVE_INFINITY : limit;
  const sessionConnections = new ConnectionCounter(
    perAddress(limits.sessionSocketsPerAddress),
    limits.maxSessionSockets,
  );
  // Control sockets are not counted against the session total: the descriptor reserve is theirs.
  const controlConnections = new ConnectionCounter(
    perAddress(limits.controlSocketsPerAddress),
    Number.POSITIVE_INFINITY,
  );
  const controlConnectBudget =
    options.rateLimit === false || limits.controlConnectsPerMinute === 0
      ? undefined
      : new IpBudget({
          perMinute: limits.controlConnectsPerMinute,
          burst: limits.controlConnectBurst,
          now,
        });

  const httpOptions = {
    requireHostHeader: false,
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const tls = options.tls;
  const app = Fastify({
    // Fastify's own `https` option drops the `http` settings below, so the TLS server is made here.
    ...(tls === undefined
      ? {}
      : {
          serverFactory: (handler: Parameters<typeof createHttpsServer>[1]) => {
            const server = createHttpsServer({ ...httpOptions, ...tls.load() }, handler);
            server.keepAliveTimeout = limits.keepAliveTimeoutMs;
            server.requestTimeout = limits.requestTimeoutMs;
            return server as unknown as HttpServer;
          },
        }),
    // Widened to Fastify's logger type so the app is a plain FastifyInstance for route modules.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request would drown the failover lines; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // Nothing logs through request.log, so no per-request child logger (with the redaction
    // paths it is a measurable cost per request): routes log through the broker's logger.
    childLoggerFactory: (parent) => parent,
    bodyLimit: Limits.brokerFrameBytes,
    // Fastify's own 503 while closing, and its malformed-HTTP answer, have its error shape, not ours.
    return503OnClosing: false,
    clientErrorHandler: (error, socket) => {
      if (error.code !== 'ECONNRESET' && !socket.destroyed)
        metrics.httpClientErrors.inc({ code: clientErrorCode(error) });
      clientErrorHandler(error, socket);
    },
    // Slow or silent HTTP clients hold a descriptor each: headers and whole requests are timed,
    // and checked often enough that the timeouts hold to within a fraction of themselves.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // A URL the router cannot decode (`/%zz`): the catalogue shape, not Fastify's default body.
    frameworkErrors: (_error, _request, reply) => sendError(reply, 'BAD_MESSAGE', null, 'malformed URL'),
    // Node would answer a Host-less HTTP/1.1 request with a bare 400 itself; the hook below does it in our shape.
    http: httpOptions,
  });
  const stopped: Array<() => void> = [];
  let upgrades: UpgradeRouter | undefined;
  try {
    app.setErrorHandler(errorHandler(logger));
    app.addHook('onRequest', (request, reply, done) => {
      if (request.raw.httpVersion === '1.1' && request.headers.host === undefined)
        return sendError(reply, 'BAD_MESSAGE', null, 'an HTTP/1.1 request needs a Host header');
      done();
    });
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

    // Liveness: 200 while the process serves, whatever its store does.
    app.get('/healthz', async () => {
      let rooms: number | null = null;
      try {
        rooms = await pins.size();
      } catch {
        // the store is down: readiness says so
      }
      return { status: 'ok', servers: registry.healthyCount(), rooms };
    });
    // Readiness: may this broker take session requests (a load balancer routes around it if not)?
    app.get('/readyz', async (_request, reply) => {
      const servers = registry.healthyCount();
      const store = pins.reachable !== false;
      const ready = servers > 0 && !warmUp.active && store;
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not-ready',
        servers,
        warmingUp: warmUp.active,
        store: store ? 'ok' : 'unreachable',
      });
    });
    app.get('/metrics', async (request, reply) => {
      if (metricsToken !== undefined && !bearerMatches(request.headers.authorization, metricsToken)) {
        reply.header('www-authenticate', 'Bearer realm="usher-metrics"');
        return sendError(reply, 'UNAUTHORIZED', null);
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    registerEmbedConfigRoute(app, { allowedOrigins: options.allowedOrigins });
    const socketRoutes = new Map<string, SocketRoute>();
    // Session routes in their own scope, so the CORS hook stays off the rest.
    await app.register(async (scope) => {
      registerCors(scope, { originAllowed, anyOrigin: allowsAnyOrigin(options.allowedOrigins) });
      const sessionRoutes = registerSessionRoutes(scope, {
        sessions,
        redirects,
        metrics,
        logger,
        originAllowed,
        proxyHops,
        budget,
        socketLimit,
        connections: sessionConnections,
        idleTimeoutMs: limits.sessionIdleTimeoutMs,
      });
      stopped.push(sessionRoutes.stop);
      socketRoutes.set('/v1/session', {
        accept: sessionRoutes.acceptSocket,
        refusal: sessionRoutes.refusal,
        maxPayload: SESSION_SOCKET_MAX_PAYLOAD,
        explainRefusedOrigin: true,
      });
    });
    const controlRoute = registerControlRoute(app, {
      keys: options.keys,
      fleet,
      metrics,
      logger,
      heartbeat,
      now,
      originAllowed,
      proxyHops,
      connections: controlConnections,
      connectBudget: controlConnectBudget,
      stalled: () => stallWatch.stalled(),
      refuseLoopbackUrls: !isLoopbackHost(host) && options.allowLoopbackMedia !== true,
    });
    socketRoutes.set('/v1/control', {
      accept: controlRoute.accept,
      refusal: controlRoute.refusal,
      maxPayload: Limits.controlFrameBytes,
    });
    upgrades = routeUpgrades(app.server, {
      routes: socketRoutes,
      originAllowed,
      logger,
    });
    app.addHook('preClose', async () => {
      stallWatch.stop();
      warmUp.end();
      fleet.stop();
      await upgrades?.close(CLOSE_WAIT_MS);
      await dispatcher?.close();
      if (options.webhookOnce === undefined) await webhookOnce.close();
    });
    if (options.devTokenEndpoint === true && auth.mode === 'token') {
      logger.warn(
        'DEV TOKEN ENDPOINT IS ON: POST /dev/token signs a join token for anyone (local stack only)',
      );
      registerDevTokenRoute(app, { apiKeys: auth.apiKeys, budget });
    }
    if (options.adminToken !== undefined && options.adminToken !== '')
      registerAdminRoutes(app, { token: options.adminToken, registry, pins, fleet, now });
    if (apiKeys !== undefined) registerServerApiRoutes(app, { apiKeys, registry, assigner, fleet, now });
    // Pages (the app and the 404s) in a scope with helmet's headers; the API routes skip its hooks.
    await app.register(async (scope) => {
      await registerSecurityHeaders(scope, { allowedOrigins: options.allowedOrigins });
      await registerStaticSite(scope, options.staticDir);
    });

    await app.listen({ host, port: options.port, listenTextResolver: () => 'http server listening' });
  } catch (error) {
    stallWatch.stop();
    warmUp.end();
    await dispatcher?.close();
    for (const stop of stopped) stop();
    await app.close();
    throw error;
  }

  const port = (app.server.address() as AddressInfo).port;
  const url = `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info(
    { url, openFileLimit: fileLimit ?? 'unknown', maxSessionSockets: limits.maxSessionSockets },
    'broker listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    reloadTls: () =>
      tls !== undefined && reloadTls(app.server as unknown as import('node:tls').Server, tls, logger),
    close() {
      closing ??= (async () => {
        for (const stop of stopped) stop();
        await app.close();
      })();
      return closing;
    },
  };
}

/** `{ burst: undefined }` must not override a default. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
