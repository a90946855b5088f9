// The broker's WebSocket upgrades (`/v1/session`, `/v1/control`), routed straight from the
// HTTP server's `upgrade` event to `ws`, beside Fastify rather than through it: a browser
// opens one socket per join, and running each handshake through Fastify's request
// lifecycle (router, hooks, a stand-in reply) measured ≈ 60 µs of broker CPU per connection
// (docs/PERFORMANCE.md). The checks Fastify's hooks did for these paths are done here, in
// the same wire shape: an HTTP/1.1 Host header, the Origin policy, then ws's handshake.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode, type ErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../common/logger.ts';
import { answerHandshakeErrors, refuseUpgrade } from '../common/ws-handshake.ts';
import type { OriginPolicy } from './origin.ts';

export type SocketHandler = (socket: WebSocket, request: IncomingMessage) => void;

export interface UpgradeRouterOptions {
  /** Path → handler of the accepted socket. */
  routes: ReadonlyMap<string, SocketHandler>;
  originAllowed: OriginPolicy;
  logger: Logger;
  /** Largest frame ws accepts on any route (routes may enforce smaller limits themselves). */
  maxPayload: number;
}

export interface UpgradeRouter {
  /** Every accepted socket still open. */
  readonly clients: ReadonlySet<WebSocket>;
  /** Stop routing, and close every open socket (GOING_AWAY; cut after `waitMs`). */
  close(waitMs: number): Promise<void>;
}

export function routeUpgrades(server: Server, options: UpgradeRouterOptions): UpgradeRouter {
  const { routes, originAllowed, logger } = options;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
  });
  answerHandshakeErrors(wss, logger);
  let closing = false;

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const handler = routes.get(query === -1 ? url : url.slice(0, query));
    const refusal = upgradeRefusal(handler !== undefined, closing, request, originAllowed);
    if (refusal !== undefined || handler === undefined) {
      refuseUpgrade(socket, refusal?.code ?? 'NOT_FOUND', refusal?.message);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      // Protocol errors (oversized or malformed frames): ws has already sent a close code.
      ws.on('error', (error: Error & { code?: string }) => {
        logger.debug({ code: error.code }, 'websocket error');
        ws.terminate();
      });
      handler(ws, request);
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    clients: wss.clients,
    async close(waitMs) {
      closing = true;
      server.off('upgrade', onUpgrade);
      await closeSockets(wss.clients, waitMs);
      wss.close();
    },
  };
}

/** Why an upgrade is refused before the handshake, in the order Fastify's hooks checked. */
function upgradeRefusal(
  routed: boolean,
  closing: boolean,
  request: IncomingMessage,
  originAllowed: OriginPolicy,
): { code: ErrorCode; message?: string } | undefined {
  if (!routed) return { code: 'NOT_FOUND' };
  if (closing) return { code: 'SERVER_DRAINING', message: 'the broker is shutting down' };
  const host = request.headers.host;
  if (request.httpVersion === '1.1' && host === undefined)
    return { code: 'BAD_MESSAGE', message: 'an HTTP/1.1 request needs a Host header' };
  if (!originAllowed(request.headers.origin, host)) return { code: 'FORBIDDEN_ORIGIN' };
  return undefined;
}

/** Tell every socket the broker is going away, and cut those that do not answer in time. */
async function closeSockets(clients: Set<WebSocket>, waitMs: number): Promise<void> {
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
    timer = setTimeout(resolve, waitMs);
  });
  await Promise.race([closed, timeout]);
  clearTimeout(timer);
  for (const socket of open) if (socket.readyState !== socket.CLOSED) socket.terminate();
}
