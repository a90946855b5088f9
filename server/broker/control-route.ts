// The `/v1/control` route: a plain GET that explains the upgrade, and the handler the broker's
// upgrade router gives each upgraded socket (served by control-socket.ts).
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { createDecoder } from '../../shared/codec.ts';
import { CloseCode } from '../../shared/errors.ts';
import { ControlInbound } from '../../shared/protocol/control.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { ThrottledLog } from '../common/throttled-log.ts';
import { clientAddress } from './client-address.ts';
import { ConnectionCounter } from './connection-limits.ts';
import { ControlSocket, type ControlSocketContext } from './control-socket.ts';
import type { Fleet } from './fleet.ts';
import { sendError } from './http-errors.ts';
import type { IpBudget } from './ip-budget.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';
import type { UpgradeRefusal } from './upgrades.ts';
import { closeSocket } from './ws-util.ts';

export { isValidServerUrl, REGISTER_DEADLINE_MS } from './control-socket.ts';

/** Refused control connections: the first ten are logged, then at most one per 10 s (the metrics count each). */
export const REFUSAL_LOG = { burst: 10, intervalMs: 10_000 } as const;

export interface ControlRouteOptions {
  keys: KeyRing;
  fleet: Fleet;
  metrics: BrokerMetrics;
  logger: Logger;
  heartbeat: { intervalMs: number; timeoutMs: number };
  now: () => number;
  originAllowed: OriginPolicy;
  /** Proxies in front whose X-Forwarded-For entries are trusted (0: none). */
  proxyHops: number;
  /** Open control sockets per address (and in total). */
  connections: ConnectionCounter;
  /** New control connections per address; undefined ⇒ unlimited. */
  connectBudget: IpBudget | undefined;
  /** True while the broker's own event loop was just stalled: a silence then is ours, not the server's. */
  stalled: () => boolean;
  /** Refuse media servers that announce a loopback URL (the broker listens publicly). */
  refuseLoopbackUrls: boolean;
}

export interface ControlRoute {
  /** The connection limits' refusal of a `/v1/control` upgrade, before its handshake. */
  refusal(request: IncomingMessage): UpgradeRefusal | undefined;
  accept(socket: WebSocket, request: IncomingMessage): void;
}

/**
 * Registers a plain `GET /v1/control` that explains the upgrade, and returns the handler the
 * broker's upgrade router gives each upgraded `/v1/control` socket.
 */
export function registerControlRoute(app: FastifyInstance, options: ControlRouteOptions): ControlRoute {
  const {
    keys,
    fleet,
    metrics,
    logger,
    heartbeat,
    now,
    originAllowed,
    proxyHops,
    connections,
    connectBudget,
    stalled,
    refuseLoopbackUrls,
  } = options;
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
    refusalLog: new ThrottledLog(logger, REFUSAL_LOG.burst, REFUSAL_LOG.intervalMs, now),
    now,
    stalled,
    refuseLoopbackUrls,
    onClosed: (socket) => {
      connections.close(socket.limitKey);
      metrics.controlConnections.dec();
    },
  };
  const refusedLog = new ThrottledLog(logger, REFUSAL_LOG.burst, REFUSAL_LOG.intervalMs, now);

  function refused(limit: 'per-address' | 'total' | 'rate', address: string): UpgradeRefusal {
    metrics.connectionsRefused.inc({ route: 'control', limit });
    refusedLog.warn({ limit, address }, 'control connection refused by a connection limit');
    return limit === 'rate'
      ? { code: 'RATE_LIMITED', message: 'too many control connections from this address' }
      : { code: 'TOO_MANY_CONNECTIONS' };
  }

  return {
    refusal(request) {
      const address = clientAddress(request, proxyHops).address;
      const hit = connections.check(ConnectionCounter.key(address));
      if (hit !== undefined) return refused(hit, address);
      // Every attempt costs, so a client that reconnects in a loop is slowed down whatever it sends.
      if (connectBudget !== undefined && !connectBudget.take(address).ok) return refused('rate', address);
      return undefined;
    },
    accept(socket, request) {
      const key = ConnectionCounter.key(clientAddress(request, proxyHops).address);
      const hit = connections.tryOpen(key);
      if (hit !== undefined) {
        metrics.connectionsRefused.inc({ route: 'control', limit: hit });
        closeSocket(socket, CloseCode.RATE_LIMITED, 'TOO_MANY_CONNECTIONS');
        return;
      }
      metrics.controlConnections.inc();
      new ControlSocket(socket, key, context, request.socket);
    },
  };
}
