// The `/v1/control` route: a plain GET that explains the upgrade, and the handler the broker's
// upgrade router gives each upgraded socket (served by control-socket.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { createDecoder } from '../../shared/codec.ts';
import { ControlInbound } from '../../shared/protocol/control.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { ControlSocket, type ControlSocketContext } from './control-socket.ts';
import type { Fleet } from './fleet.ts';
import { sendError } from './http-errors.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';

export { isValidServerUrl, REGISTER_DEADLINE_MS } from './control-socket.ts';

export interface ControlRouteOptions {
  keys: KeyRing;
  fleet: Fleet;
  metrics: BrokerMetrics;
  logger: Logger;
  heartbeat: { intervalMs: number; timeoutMs: number };
  now: () => number;
  originAllowed: OriginPolicy;
}

/**
 * Registers a plain `GET /v1/control` that explains the upgrade, and returns the handler the
 * broker's upgrade router gives each upgraded `/v1/control` socket.
 */
export function registerControlRoute(
  app: FastifyInstance,
  options: ControlRouteOptions,
): (socket: WebSocket) => void {
  const { keys, fleet, metrics, logger, heartbeat, now, originAllowed } = options;
  app.get(
    '/v1/control',
    {
      onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
        if (!originAllowed(request.headers.origin, request.headers.host))
          return sendError(reply, 'FORBIDDEN_ORIGIN', null);
        return undefined;
      },
    },
    async (_request, reply) => sendError(reply, 'NOT_FOUND', null, 'this endpoint needs a WebSocket upgrade'),
  );
  const context: ControlSocketContext = {
    keys,
    fleet,
    metrics,
    logger,
    decoder: createDecoder(ControlInbound),
    heartbeat,
    now,
  };
  return (socket) => {
    new ControlSocket(socket, context);
  };
}
