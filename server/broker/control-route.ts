// WebSocket `/v1/control`: media servers register (token, URL, capacity, rooms), then
// report load on every heartbeat. Silence past the heartbeat timeout — a frozen server
// keeps its socket open — or the socket closing removes the server at once.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { createDecoder, type DecodeResult, type Decoder, errorMessage } from '../../shared/codec.ts';
import { CloseCode, ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';
import { ControlInbound, type Register } from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { verifyControlToken } from '../common/tickets.ts';
import type { Fleet } from './fleet.ts';
import { sendError } from './http-errors.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';
import type { MediaServer } from './registry.ts';
import { closeSocket, frameText, sendJson } from './ws-util.ts';

/** A connection that has not sent `register` by then is closed. */
export const REGISTER_DEADLINE_MS = 5000;

export interface ControlRouteOptions {
  keys: KeyRing;
  fleet: Fleet;
  metrics: BrokerMetrics;
  logger: Logger;
  heartbeat: { intervalMs: number; timeoutMs: number };
  now: () => number;
  originAllowed: OriginPolicy;
  /** True while the broker's own event loop was just stalled: a silence then is ours, not the server's. */
  stalled?: () => boolean;
}

/** The URL clients will be sent to: ws(s), a host, and never credentials (they would leak to every client). */
export function isValidServerUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'ws:' || url.protocol === 'wss:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === ''
  );
}

/**
 * Registers a plain `GET /v1/control` that explains the upgrade, and returns the handler the
 * broker's upgrade router gives each upgraded `/v1/control` socket.
 */
export function registerControlRoute(
  app: FastifyInstance,
  options: ControlRouteOptions,
): (socket: WebSocket) => void {
  const { originAllowed } = options;
  const decoder = createDecoder(ControlInbound);

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
  return (socket) => serveControlSocket(socket, decoder, options);
}

function serveControlSocket(
  socket: WebSocket,
  decoder: Decoder<ControlInbound>,
  options: ControlRouteOptions,
): void {
  const { keys, fleet, metrics, logger, heartbeat, now } = options;
  let state: 'awaiting' | 'verifying' | 'registered' | 'closed' = 'awaiting';
  let server: MediaServer | undefined;
  let silence: NodeJS.Timeout | undefined;

  const refuse = (code: ErrorCode, message?: string): void => {
    if (state === 'closed') return;
    state = 'closed';
    metrics.controlRejected.inc({ code });
    logger.warn({ code }, 'control connection refused');
    sendJson(socket, errorMessage(code, null, message));
    closeSocket(socket, ErrorCatalogue[code].close ?? CloseCode.BAD_REQUEST, code);
  };

  const deadline = setTimeout(
    () => refuse('NOT_REGISTERED', `no register message within ${REGISTER_DEADLINE_MS / 1000} s`),
    REGISTER_DEADLINE_MS,
  );

  const register = async (message: Register): Promise<void> => {
    try {
      await verifyControlToken(keys, message.token, message.id);
    } catch {
      refuse('UNAUTHORIZED');
      return;
    }
    if (state !== 'verifying') return; // the socket closed while the token was checked
    if (!isValidServerUrl(message.url)) return refuse('BAD_SERVER_URL');
    if (fleet.holds(message.id)) return refuse('ID_IN_USE');
    const registered = fleet.register(
      {
        id: message.id,
        url: message.url,
        capacity: message.capacity,
        draining: message.draining,
        now: now(),
      },
      message.rooms,
      (outbound) => sendJson(socket, outbound),
    );
    server = registered;
    silence = setTimeout(() => {
      // After a stall (SIGSTOP, thaw) every server looks silent at once: give them a fresh period.
      if (options.stalled?.() === true) {
        silence?.refresh();
        return;
      }
      void fleet.lose(registered, 'heartbeat-timeout').catch(logFailure);
      state = 'closed';
      closeSocket(socket, CloseCode.IDLE_TIMEOUT, 'heartbeat timeout');
    }, heartbeat.timeoutMs);
    // The registry knows the server's live rooms already: `registered` goes first, and only
    // then may the pins' repair send it a `migrate` (a room another server holds and wins).
    state = 'registered';
    sendJson(socket, {
      type: 'registered',
      v: PROTOCOL_VERSION,
      heartbeat: { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs },
    });
    await fleet.restoreRooms(
      registered,
      message.rooms.map((entry) => entry.room),
    );
  };

  const logFailure = (error: unknown): void => {
    logger.error({ err: error }, 'control channel handler failed');
  };

  socket.on('message', (data, isBinary) => {
    // While the token is checked, later messages are dropped: a server waits for `registered`.
    if (state === 'closed' || state === 'verifying') return;
    const decoded: DecodeResult<ControlInbound> = isBinary
      ? { ok: false, code: 'BAD_MESSAGE', message: 'messages must be JSON text frames', id: null }
      : decoder.decode(frameText(data));
    if (state === 'awaiting') {
      clearTimeout(deadline);
      if (!decoded.ok) {
        if (decoded.code === 'UNKNOWN_TYPE') refuse('NOT_REGISTERED');
        else refuse(decoded.code, decoded.message);
        return;
      }
      if (decoded.msg.type !== 'register') return refuse('NOT_REGISTERED');
      state = 'verifying';
      register(decoded.msg).catch((error: unknown) => {
        logFailure(error);
        refuse('INTERNAL');
      });
      return;
    }
    if (!decoded.ok) {
      sendJson(socket, errorMessage(decoded.code, decoded.id, decoded.message));
      return;
    }
    if (decoded.msg.type === 'register' || server === undefined) {
      sendJson(socket, errorMessage('BAD_MESSAGE', null, 'this connection is already registered'));
      return;
    }
    silence?.refresh();
    fleet.report(server, decoded.msg).catch(logFailure);
  });

  socket.on('close', () => {
    clearTimeout(deadline);
    clearTimeout(silence);
    state = 'closed';
    if (server === undefined) return;
    // A stall noticed only now (the server gave up on a silent broker) starts the warm-up
    // first, so the loss does not delete pins the reconnecting server will claim again.
    options.stalled?.();
    fleet.lose(server, 'control-closed').catch(logFailure);
  });
}
