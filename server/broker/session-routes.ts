// The two ways a client asks for a session: many `session.request`s over the WebSocket
// `/v1/session` (correlated by id, bounded in flight), or one per `POST /v1/sessions`.
// Both decode with the shared schema and answer `session.assigned` or a coded `error`.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { createDecoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode, UsherError } from '../../shared/errors.ts';
import { BrokerInbound, type SessionAssigned, SessionRequest } from '../../shared/protocol/broker.ts';
import { Limits } from '../../shared/protocol/common.ts';
import type { Logger } from '../common/logger.ts';
import { clientAddress } from './client-address.ts';
import { RequestError, sendError } from './http-errors.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';
import type { ClientAddress, SessionService } from './sessions.ts';
import { closeSocket, frameBytes, frameText, sendJson } from './ws-util.ts';

/** Requests one WebSocket may have unanswered at once (see docs/PROTOCOL.md). */
export const MAX_IN_FLIGHT = 4;
/** Dead client TCP connections are found by a ws ping this often. */
const KEEPALIVE_MS = 30_000;

export interface SessionRoutesOptions {
  sessions: SessionService;
  metrics: BrokerMetrics;
  logger: Logger;
  originAllowed: OriginPolicy;
  /** No allowlist: CORS answers `*`. */
  anyOrigin: boolean;
  trustProxy: boolean;
}

export function registerSessionRoutes(app: FastifyInstance, options: SessionRoutesOptions): () => void {
  const { sessions, metrics, logger, originAllowed, anyOrigin, trustProxy } = options;
  const decoder = createDecoder(BrokerInbound);

  async function checkOrigin(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const origin = request.headers.origin;
    if (!originAllowed(origin, request.headers.host)) return sendError(reply, 'FORBIDDEN_ORIGIN', null);
    if (origin !== undefined && !request.ws) {
      reply.header('access-control-allow-origin', anyOrigin ? '*' : origin).header('vary', 'origin');
    }
    return undefined;
  }

  /** Counts and times one answered request. */
  function observe(transport: 'ws' | 'http', started: number, result: string): void {
    metrics.sessionRequests.inc({ transport, result });
    metrics.sessionSeconds.observe({ transport }, (performance.now() - started) / 1000);
  }

  function failureCode(error: unknown, transport: 'ws' | 'http'): UsherError {
    if (error instanceof UsherError) return error;
    logger.error({ err: error, transport }, 'unexpected error assigning a session');
    return new UsherError('INTERNAL');
  }

  app.options('/v1/sessions', { onRequest: checkOrigin }, async (_request, reply) =>
    reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '600')
      .send(),
  );

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/sessions',
    {
      schema: { body: SessionRequest },
      bodyLimit: Limits.brokerFrameBytes,
      // The shared decoder, not a bare schema check, so HTTP and WebSocket give the same
      // codes for the same input (UNKNOWN_TYPE, UNSUPPORTED_VERSION, BAD_MESSAGE).
      validatorCompiler: () => (value: unknown) => {
        const decoded = decoder.decodeValue(value);
        if (decoded.ok) return { value: decoded.msg };
        metrics.sessionRequests.inc({ transport: 'http', result: decoded.code });
        return { error: new RequestError(decoded.code, decoded.id, decoded.message) };
      },
      onRequest: checkOrigin,
    },
    async (request, reply) => {
      const started = performance.now();
      try {
        const assigned = await sessions(request.body, clientAddress(request, trustProxy));
        observe('http', started, 'assigned');
        return assigned;
      } catch (error) {
        const failure = failureCode(error, 'http');
        observe('http', started, failure.code);
        return sendError(reply, failure.code, request.body.id, failure.message, failure.retryAfterMs);
      }
    },
  );

  const sockets = new Map<WebSocket, { alive: boolean }>();
  const keepalive = setInterval(() => {
    for (const [socket, state] of sockets) {
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }, KEEPALIVE_MS);
  keepalive.unref();

  app.route({
    method: 'GET',
    url: '/v1/session',
    onRequest: checkOrigin,
    handler: async (_request, reply) =>
      sendError(reply, 'NOT_FOUND', null, 'this endpoint needs a WebSocket upgrade'),
    wsHandler: (socket, request) => {
      const state = { alive: true };
      sockets.set(socket, state);
      metrics.sessionConnections.inc();
      socket.on('pong', () => {
        state.alive = true;
      });
      socket.once('close', () => {
        sockets.delete(socket);
        metrics.sessionConnections.dec();
      });
      serveSessionSocket(socket, clientAddress(request, trustProxy));
    },
  });

  function serveSessionSocket(socket: WebSocket, client: ClientAddress): void {
    let inFlight = 0;
    let closing = false;
    const answer = (message: SessionAssigned | ReturnType<typeof errorMessage>): void => {
      if (!closing) sendJson(socket, message);
    };
    socket.on('message', (data, isBinary) => {
      if (closing) return;
      // The ws server's maxPayload is the control channel's 1 MiB; this route's limit is checked here.
      if (frameBytes(data) > Limits.brokerFrameBytes) {
        answer(errorMessage('FRAME_TOO_LARGE', null));
        closing = true;
        metrics.sessionRequests.inc({ transport: 'ws', result: 'FRAME_TOO_LARGE' });
        closeSocket(socket, CloseCode.MESSAGE_TOO_BIG, 'frame too large');
        return;
      }
      if (isBinary) {
        answer(errorMessage('BAD_MESSAGE', null, 'messages must be JSON text frames'));
        return;
      }
      const decoded = decoder.decode(frameText(data));
      if (!decoded.ok) {
        metrics.sessionRequests.inc({ transport: 'ws', result: decoded.code });
        answer(errorMessage(decoded.code, decoded.id, decoded.message));
        return;
      }
      const request = decoded.msg;
      if (inFlight >= MAX_IN_FLIGHT) {
        metrics.sessionRequests.inc({ transport: 'ws', result: 'TOO_MANY_IN_FLIGHT' });
        answer(errorMessage('TOO_MANY_IN_FLIGHT', request.id));
        return;
      }
      inFlight++;
      const started = performance.now();
      sessions(request, client).then(
        (assigned) => {
          inFlight--;
          observe('ws', started, 'assigned');
          answer(assigned);
        },
        (error: unknown) => {
          inFlight--;
          const failure = failureCode(error, 'ws');
          observe('ws', started, failure.code);
          answer(
            errorMessage(
              failure.code,
              request.id,
              failure.message,
              failure.retryAfterMs === undefined ? undefined : { retryAfterMs: failure.retryAfterMs },
            ),
          );
        },
      );
    });
  }

  return () => clearInterval(keepalive);
}
