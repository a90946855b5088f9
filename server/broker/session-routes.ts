// The two ways a client asks for a session: many `session.request`s over the WebSocket
// `/v1/session` (served by session-socket.ts), or one per `POST /v1/sessions`. Both decode with
// the shared schema, draw on the same per-address budget and answer `session.assigned` or a
// coded `error`. This file is the routing: the HTTP route, the upgrade's plain GET, the sockets.

import type { IncomingMessage } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import fastJsonStringify from 'fast-json-stringify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Compile } from 'typebox/compile';
import type { WebSocket } from 'ws';
import { createDecoder } from '../../shared/codec.ts';
import { CloseCode, UsherError } from '../../shared/errors.ts';
import {
  BrokerInbound,
  SessionAssigned,
  SessionRedirect,
  SessionRequest,
  SessionsQuery,
} from '../../shared/protocol/broker.ts';
import { Limits } from '../../shared/protocol/common.ts';
import type { Logger } from '../common/logger.ts';
import type { RateLimitOptions } from '../common/token-bucket.ts';
import { clientAddress } from './client-address.ts';
import { ConnectionCounter, type ConnectionLimitHit } from './connection-limits.ts';
import { RequestError, sendError } from './http-errors.ts';
import { budgetHook } from './http-guards.ts';
import type { IpBudget } from './ip-budget.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';
import type { SessionRedirects } from './session-redirect.ts';
import { SessionSocket, type SessionSocketContext } from './session-socket.ts';
import type { SessionService } from './sessions.ts';
import type { UpgradeRefusal } from './upgrades.ts';
import { closeSocket } from './ws-util.ts';

/**
 * ws reads frames up to this size on `/v1/session` and the socket answers those over its 4 KiB
 * limit with FRAME_TOO_LARGE; anything bigger is cut by ws with 1009 before it is buffered,
 * so one socket can make the broker hold at most 64 KiB.
 */
export const SESSION_SOCKET_MAX_PAYLOAD = 16 * Limits.brokerFrameBytes;
/** Dead client TCP connections are found by a ws ping this often. */
const KEEPALIVE_MS = 30_000;
/**
 * Frames one `/v1/session` socket may send: a browser sends one request per join or
 * failover, so 50 at once and 10/s is far above need; a client that keeps sending
 * 200 frames past the limit (ignoring RATE_LIMITED) is closed with 4429.
 */
export const DEFAULT_SESSION_SOCKET_LIMIT: RateLimitOptions = { burst: 50, perSecond: 10, abuseDebt: 200 };

export interface SessionRoutesOptions {
  sessions: SessionService;
  /** `POST /v1/sessions?redirect=1` (session-redirect.ts); undefined ⇒ the query is ignored. */
  redirects?: SessionRedirects;
  metrics: BrokerMetrics;
  logger: Logger;
  originAllowed: OriginPolicy;
  /** Proxies in front whose X-Forwarded-For entries are trusted (0: none). */
  proxyHops: number;
  /** Per-address request budget shared with the HTTP route; undefined ⇒ unlimited. */
  budget: IpBudget | undefined;
  /** Frame rate limit of one WebSocket; undefined ⇒ unlimited. */
  socketLimit: RateLimitOptions | undefined;
  /** Open session sockets per address and in total. */
  connections: ConnectionCounter;
  /** A socket that has made no request for this long is closed with IDLE_TIMEOUT; 0 ⇒ never. */
  idleTimeoutMs: number;
}

export interface SessionRoutes {
  /** The connection limits' refusal of a `/v1/session` upgrade, before its handshake. */
  refusal(request: IncomingMessage): UpgradeRefusal | undefined;
  /** Serves one upgraded `/v1/session` socket (the upgrade router checked Host, Origin and limits). */
  acceptSocket(socket: WebSocket, request: IncomingMessage): void;
  stop(): void;
}

/**
 * Registers `POST /v1/sessions` (and a plain `GET /v1/session` that explains the upgrade);
 * the WebSocket itself is handed to `acceptSocket` by the broker's upgrade router.
 */
export function registerSessionRoutes(app: FastifyInstance, options: SessionRoutesOptions): SessionRoutes {
  const { sessions, metrics, logger, originAllowed, proxyHops, budget, socketLimit, connections } = options;
  const decoder = createDecoder(BrokerInbound);
  const queryCheck = Compile(SessionsQuery);
  // The reply's own schema compiled to a serialiser, as Fastify does for the HTTP route's response.
  const serializeAssigned = fastJsonStringify(SessionAssigned);

  /** CORS headers come from the scope's hook (http-guards.ts); this refuses the request itself (it would cost a ticket). */
  function checkOrigin(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (originAllowed(request.headers.origin, request.headers.host)) done();
    else sendError(reply, 'FORBIDDEN_ORIGIN', null);
  }

  // The labelled series of the hot path, looked up once rather than hashed per request.
  const series = {
    ws: {
      assigned: metrics.sessionRequests.labels('ws', 'assigned'),
      seconds: metrics.sessionSeconds.labels('ws'),
    },
    http: {
      assigned: metrics.sessionRequests.labels('http', 'assigned'),
      seconds: metrics.sessionSeconds.labels('http'),
    },
  };

  /** Counts and times one answered request. */
  function observe(transport: 'ws' | 'http', started: number, result: string): void {
    const own = series[transport];
    if (result === 'assigned') own.assigned.inc();
    else metrics.sessionRequests.inc({ transport, result });
    own.seconds.observe((performance.now() - started) / 1000);
  }

  function failureCode(error: unknown, transport: 'ws' | 'http'): UsherError {
    if (error instanceof UsherError) return error;
    logger.error({ err: error, transport }, 'unexpected error assigning a session');
    return new UsherError('INTERNAL');
  }

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/sessions',
    {
      schema: {
        body: SessionRequest,
        querystring: SessionsQuery,
        response: { 200: SessionAssigned, 307: SessionRedirect },
      },
      bodyLimit: Limits.brokerFrameBytes,
      // The shared decoder, not a bare schema check, so HTTP and WebSocket give the same
      // codes for the same input (UNKNOWN_TYPE, UNSUPPORTED_VERSION, BAD_MESSAGE).
      validatorCompiler:
        ({ httpPart }) =>
        (value: unknown) => {
          if (httpPart === 'querystring') {
            if (queryCheck.Check(value)) return { value };
            metrics.sessionRequests.inc({ transport: 'http', result: 'BAD_MESSAGE' });
            return { error: new RequestError('BAD_MESSAGE', null, 'query: redirect must be 1 or true') };
          }
          const decoded = decoder.decodeValue(value);
          if (decoded.ok) return { value: decoded.msg };
          metrics.sessionRequests.inc({ transport: 'http', result: decoded.code });
          return { error: new RequestError(decoded.code, decoded.id, decoded.message) };
        },
      // The budget is charged after the origin check (a refused origin costs nothing), before
      // the body is read.
      onRequest:
        budget === undefined ? checkOrigin : [checkOrigin, budgetHook({ budget, metrics, proxyHops })],
    },
    async (request, reply) => {
      const started = performance.now();
      if (request.query.redirect !== undefined && options.redirects !== undefined)
        return redirect(options.redirects, request, reply, started);
      try {
        const assigned = await sessions(
          withBearerToken(request.body, request.headers.authorization),
          clientAddress(request.raw, proxyHops),
        );
        observe('http', started, 'assigned');
        return assigned;
      } catch (error) {
        const failure = failureCode(error, 'http');
        observe('http', started, failure.code);
        return sendError(reply, failure.code, request.body.id, failure.message, failure.retryAfterMs);
      }
    },
  );

  /** 307 to the assigned server's own session endpoint (docs/ARCHITECTURE.md "Redirect mode"). */
  async function redirect(
    redirects: SessionRedirects,
    request: FastifyRequest<{ Body: SessionRequest }>,
    reply: FastifyReply,
    started: number,
  ): Promise<FastifyReply> {
    try {
      const answer = await redirects(
        withBearerToken(request.body, request.headers.authorization),
        clientAddress(request.raw, proxyHops),
        request.headers.origin,
      );
      observe('http', started, 'redirected');
      return reply
        .code(307)
        .header('location', answer.location)
        .header('cache-control', 'no-store')
        .send(answer);
    } catch (error) {
      const failure = failureCode(error, 'http');
      observe('http', started, failure.code);
      return sendError(reply, failure.code, request.body.id, failure.message, failure.retryAfterMs);
    }
  }

  app.get('/v1/session', { onRequest: checkOrigin }, async (_request, reply) =>
    sendError(reply, 'NOT_FOUND', null, 'this endpoint needs a WebSocket upgrade'),
  );

  const sockets = new Set<SessionSocket>();
  const context: SessionSocketContext = {
    sessions,
    decoder,
    budget,
    socketLimit,
    serializeAssigned,
    refused: (code) => metrics.sessionRequests.inc({ transport: 'ws', result: code }),
    answered: (started, result) => observe('ws', started, result),
    failure: (error) => failureCode(error, 'ws'),
    onClosed: (socket) => {
      sockets.delete(socket);
      connections.close(socket.limitKey);
      metrics.sessionConnections.dec();
    },
  };
  const keepalive = setInterval(() => {
    for (const socket of sockets) socket.keepalive();
  }, KEEPALIVE_MS);
  keepalive.unref();
  const idleTimeoutMs = options.idleTimeoutMs;
  // Checked a few times per idle period, so a socket goes between 1 and 1.25 idle periods after its last request.
  const idleSweep =
    idleTimeoutMs > 0
      ? setInterval(
          () => {
            const since = performance.now() - idleTimeoutMs;
            for (const socket of sockets) if (socket.closeIfIdleSince(since)) metrics.sessionIdleClosed.inc();
          },
          Math.min(KEEPALIVE_MS, Math.max(10, Math.floor(idleTimeoutMs / 4))),
        )
      : undefined;
  idleSweep?.unref();
  const refusedPerAddress = metrics.connectionsRefused.labels('session', 'per-address');
  const refusedTotal = metrics.connectionsRefused.labels('session', 'total');

  function refusalOf(hit: ConnectionLimitHit): UpgradeRefusal {
    (hit === 'total' ? refusedTotal : refusedPerAddress).inc();
    return hit === 'total'
      ? { code: 'TOO_MANY_CONNECTIONS', message: 'the broker holds as many session connections as it may' }
      : { code: 'TOO_MANY_CONNECTIONS' };
  }

  function refusal(request: IncomingMessage): UpgradeRefusal | undefined {
    const hit = connections.check(ConnectionCounter.key(clientAddress(request, proxyHops).address));
    return hit === undefined ? undefined : refusalOf(hit);
  }

  function acceptSocket(socket: WebSocket, request: IncomingMessage): void {
    const client = clientAddress(request, proxyHops);
    const key = ConnectionCounter.key(client.address);
    // The handshake ran between the check and here; counted now, so a socket is counted only once it exists.
    const hit = connections.tryOpen(key);
    if (hit !== undefined) {
      const refused = refusalOf(hit);
      closeSocket(socket, CloseCode.RATE_LIMITED, refused.code);
      return;
    }
    metrics.sessionConnections.inc();
    sockets.add(new SessionSocket(socket, client, key, context));
  }

  return {
    refusal,
    acceptSocket,
    stop: () => {
      clearInterval(keepalive);
      clearInterval(idleSweep);
    },
  };
}

/** `Authorization: Bearer <token>` carries the join token when the body has none. */
function withBearerToken(body: SessionRequest, authorization: string | undefined): SessionRequest {
  if (body.token !== undefined || authorization === undefined) return body;
  const match = /^Bearer ([^\s]{1,2048})$/i.exec(authorization);
  return match === null ? body : { ...body, token: match[1]! };
}
