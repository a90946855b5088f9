// The broker's WebSocket upgrades (`/v1/session`, `/v1/control`), routed straight from the
// HTTP server's `upgrade` event to `ws`, beside Fastify rather than through it: a browser
// opens one socket per join, and running each handshake through Fastify's request
// lifecycle (router, hooks, a stand-in reply) cost a large share of a connect-request-close
// (docs/PERFORMANCE.md). The checks Fastify's hooks did for these paths are done here, in
// the same wire shape: an HTTP/1.1 Host header, the Origin policy, then ws's handshake.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { errorMessage } from '../../shared/codec.ts';
import { CloseCode, ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../common/logger.ts';
import { answerHandshakeErrors, refuseUpgrade } from '../common/ws-handshake.ts';
import { skipLateSocketEnd } from '../common/ws-late-end.ts';
import type { OriginPolicy } from './origin.ts';

export type SocketHandler = (socket: WebSocket, request: IncomingMessage) => void;

/** Why an upgrade is refused before the handshake, answered in HTTP with the code's status. */
export interface UpgradeRefusal {
  code: ErrorCode;
  message?: string;
}

export interface SocketRoute {
  accept: SocketHandler;
  /**
   * The route's own admission (connection limits), checked after Host and Origin and before
   * the handshake, so that a refused client costs no WebSocket; undefined ⇒ admitted.
   */
  refusal?: (request: IncomingMessage) => UpgradeRefusal | undefined;
  /**
   * Largest frame ws reads on this route; a bigger one closes the socket with 1009 before
   * it is buffered whole. A route may answer smaller frames over its own limit itself.
   */
  maxPayload: number;
  /** Answer a refused Origin inside the socket (an `error` frame, then close 4403) instead of
   *  an HTTP 403 a page cannot read: for routes browsers use. */
  explainRefusedOrigin?: boolean;
}

export interface UpgradeRouterOptions {
  /** Path → its route. */
  routes: ReadonlyMap<string, SocketRoute>;
  originAllowed: OriginPolicy;
  logger: Logger;
}

export interface UpgradeRouter {
  /** Stop routing, and close every open socket (GOING_AWAY; cut after `waitMs`). */
  close(waitMs: number): Promise<void>;
}

export function routeUpgrades(server: Server, options: UpgradeRouterOptions): UpgradeRouter {
  const { originAllowed, logger } = options;
  // One ws server per route, each with that route's frame limit.
  const routes = new Map(
    [...options.routes].map(([path, route]) => {
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: route.maxPayload,
        perMessageDeflate: false,
      });
      answerHandshakeErrors(wss, logger);
      return [
        path,
        {
          accept: route.accept,
          refusal: route.refusal,
          wss,
          explainRefusedOrigin: route.explainRefusedOrigin,
        },
      ] as const;
    }),
  );
  let closing = false;

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const route = routes.get(query === -1 ? url : url.slice(0, query));
    const handshakeRefusal = upgradeRefusal(route !== undefined, closing, request, originAllowed);
    if (handshakeRefusal?.code === 'FORBIDDEN_ORIGIN' && route?.explainRefusedOrigin === true) {
      // A browser shows a refused handshake to the page as a bare 1006: accept, say why, close.
      route.wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        ws.send(JSON.stringify(errorMessage('FORBIDDEN_ORIGIN', null)));
        ws.close(ErrorCatalogue.FORBIDDEN_ORIGIN.close ?? CloseCode.FORBIDDEN, 'origin not allowed');
      });
      return;
    }
    const refusal = handshakeRefusal ?? route?.refusal?.(request);
    if (refusal !== undefined || route === undefined) {
      refuseUpgrade(socket, refusal?.code ?? 'NOT_FOUND', refusal?.message);
      return;
    }
    skipLateSocketEnd(socket);
    route.wss.handleUpgrade(request, socket, head, (ws) => {
      // Protocol errors (oversized or malformed frames): ws has already sent a close code.
      ws.on('error', (error: Error & { code?: string }) => {
        logger.debug({ code: error.code }, 'websocket error');
        ws.terminate();
      });
      route.accept(ws, request);
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    async close(waitMs) {
      // Still listening until the HTTP server closes: late upgrades get SERVER_DRAINING.
      closing = true;
      const servers = [...routes.values()].map((route) => route.wss);
      await closeSockets(
        servers.flatMap((wss) => [...wss.clients]),
        waitMs,
      );
      for (const wss of servers) wss.close();
    },
  };
}

/** Why an upgrade is refused before the handshake, in the order Fastify's hooks checked. */
function upgradeRefusal(
  routed: boolean,
  closing: boolean,
  request: IncomingMessage,
  originAllowed: OriginPolicy,
): UpgradeRefusal | undefined {
  if (!routed) return { code: 'NOT_FOUND' };
  if (closing) return { code: 'SERVER_DRAINING', message: 'the broker is shutting down' };
  const host = request.headers.host;
  if (request.httpVersion === '1.1' && host === undefined)
    return { code: 'BAD_MESSAGE', message: 'an HTTP/1.1 request needs a Host header' };
  if (!originAllowed(request.headers.origin, host)) return { code: 'FORBIDDEN_ORIGIN' };
  return undefined;
}

/** Tell every socket the broker is going away, and cut those that do not answer in time. */
async function closeSockets(open: WebSocket[], waitMs: number): Promise<void> {
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
