// `POST /v1/sessions` on the media server: the end of the broker's redirect (redirect mode).
// The request carries the broker's grant; this server checks it, takes a seat from its own book
// and answers `session.assigned` with its own address and its own confirmation, so the client
// learns where to go from the server itself. docs/ARCHITECTURE.md "Redirect mode".
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDecoder, errorMessage } from '../../shared/codec.ts';
import { type ErrorCode, UsherError } from '../../shared/errors.ts';
import { BrokerInbound, type SessionAssigned } from '../../shared/protocol/broker.ts';
import { Limits } from '../../shared/protocol/common.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import { type RedirectGrant, readRedirectGrant } from '../common/redirect-grant.ts';
import { grantLetters, type ReplayCache, verifyTicket } from '../common/tickets.ts';
import type { SeatBook } from './seats.ts';

export const SESSIONS_PATH = '/v1/sessions';
const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'POST',
  // A client may have sent its join token as a header to the broker; the browser asks for it again here.
  'access-control-allow-headers': 'content-type, authorization',
} as const;

export interface SessionEndpointContext {
  readonly serverId: string;
  /** The public URL clients dial (known once the server listens). */
  url(): string;
  readonly keys: KeyRing;
  readonly seats: SeatBook;
  /** The joins' replay cache: the grant spends the broker's ticket, so it cannot also join. */
  readonly replay: ReplayCache;
  readonly now: () => number;
  readonly logger: Logger;
}

/** One redirected request: its body being read, then answered (once). */
type State = { kind: 'reading'; size: number } | { kind: 'answered' };

/** Serves the session endpoint's requests (POST and its CORS preflight). */
export class SessionEndpoint {
  private readonly decoder = createDecoder(BrokerInbound);

  constructor(private readonly ctx: SessionEndpointContext) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const { grant, failure } = this.grantOf(req);
    // Only a grant this fleet signed for this server names an origin that may read the answer.
    const cors = corsOrigin(req.headers.origin, grant);
    if (req.method === 'OPTIONS') {
      if (cors === undefined) answer(res, 403, errorMessage('FORBIDDEN_ORIGIN', null), undefined);
      else {
        res.writeHead(204, { ...PREFLIGHT_HEADERS, 'access-control-allow-origin': cors, vary: 'Origin' });
        res.end();
      }
      return;
    }
    if (req.method !== 'POST') {
      answer(res, 404, errorMessage('NOT_FOUND', null, `${SESSIONS_PATH} takes POST`), cors);
      return;
    }
    let state: State = { kind: 'reading', size: 0 };
    const chunks: Buffer[] = [];
    const reply = (status: number, body: unknown): void => {
      if (state.kind === 'answered') return;
      state = { kind: 'answered' };
      answer(res, status, body, cors);
    };
    const refuse = (code: ErrorCode, id: string | null, message?: string): void => {
      this.ctx.logger.debug({ code }, 'redirected session refused');
      reply(statusOf(code), errorMessage(code, id, message));
    };
    req.on('data', (chunk: Buffer) => {
      if (state.kind !== 'reading') return;
      state.size += chunk.length;
      if (state.size > Limits.brokerFrameBytes) {
        // The rest of the body is discarded unread (Node drains it, within the request timeout)
        // and the connection closes after the answer.
        res.setHeader('connection', 'close');
        refuse('FRAME_TOO_LARGE', null);
        return;
      }
      chunks.push(chunk);
    });
    req.once('error', () => {
      state = { kind: 'answered' };
    });
    req.once('end', () => {
      if (state.kind !== 'reading') return;
      let value: unknown;
      try {
        value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        refuse('BAD_JSON', null);
        return;
      }
      const decoded = this.decoder.decodeValue(value);
      if (!decoded.ok) {
        refuse(decoded.code, decoded.id, decoded.message);
        return;
      }
      const { id, room } = decoded.msg;
      if (grant === undefined) {
        refuse(failure?.code ?? 'TICKET_INVALID', id, failure?.message);
        return;
      }
      try {
        reply(200, this.assign(grant, id, room, req));
      } catch (error) {
        if (error instanceof UsherError) refuse(error.code, id, error.message);
        else {
          this.ctx.logger.error({ err: error }, 'unexpected error answering a redirected session');
          refuse('INTERNAL', id);
        }
      }
    });
  }

  /** The grant in the query, read but not yet held to its audience and expiry. */
  private grantOf(req: IncomingMessage): { grant?: RedirectGrant; failure?: UsherError } {
    const query = (req.url ?? '').split('?', 2)[1] ?? '';
    const token = new URLSearchParams(query).get('grant');
    if (token === null)
      return {
        failure: new UsherError(
          'TICKET_INVALID',
          'no redirect grant: ask the broker (POST /v1/sessions?redirect=1)',
        ),
      };
    try {
      const grant = readRedirectGrant(this.ctx.keys, token);
      if (grant.serverId !== this.ctx.serverId)
        return { failure: new UsherError('TICKET_WRONG_SERVER', 'the redirect grant is for another server') };
      return { grant };
    } catch (error) {
      return { failure: error instanceof UsherError ? error : new UsherError('TICKET_INVALID') };
    }
  }

  /**
   * The grant's session gets a seat here, or the catalogue code that refuses it: the grant
   * expired or was used (its ticket's id is spent, as a join would spend it), the ticket is not
   * for this server or room, or this server is full or draining.
   */
  private assign(grant: RedirectGrant, id: string, room: string, req: IncomingMessage): SessionAssigned {
    const { serverId, seats, replay, keys } = this.ctx;
    const now = this.ctx.now();
    if (grant.expiresAt <= now) throw new UsherError('TICKET_EXPIRED', 'the redirect grant has expired');
    const claims = verifyTicket(keys, grant.ticket, serverId, now);
    if (claims.room !== room)
      throw new UsherError('TICKET_WRONG_ROOM', 'the redirect grant is for another room');
    if (!replay.use(claims.jti, claims.exp, now))
      throw new UsherError('TICKET_REPLAYED', 'the redirect grant was already used');
    const reserved = seats.reserve({
      type: 'reserve',
      v: PROTOCOL_VERSION,
      id,
      room,
      sessionId: claims.sessionId,
      identity: claims.identity,
      name: claims.name,
      grants: grantLetters(claims.grants),
      // The book's own seat window decides.
      expiresAt: Number.MAX_SAFE_INTEGER,
    });
    if (reserved.type === 'refused') throw new UsherError(reserved.code);
    const address = unmap(req.socket.remoteAddress);
    const port = req.socket.remotePort;
    return {
      type: 'session.assigned',
      v: PROTOCOL_VERSION,
      id,
      sessionId: claims.sessionId,
      room,
      server: { id: serverId, url: this.ctx.url() },
      ticket: grant.ticket,
      ticketExpiresAt: claims.exp * 1000,
      seat: reserved.confirmation,
      ping: grant.ping,
      iceServers: grant.iceServers,
      client: port === undefined ? { address } : { address, port },
    };
  }
}

/**
 * The Origin allowed to read the answer: the one the broker admitted (in the grant), or `null`,
 * which is what a browser sends after a redirect from a broker on another origin than the page's.
 */
function corsOrigin(origin: string | undefined, grant: RedirectGrant | undefined): string | undefined {
  if (origin === undefined || grant?.origin === undefined) return undefined;
  return origin === grant.origin || origin === 'null' ? origin : undefined;
}

function statusOf(code: ErrorCode): number {
  return new UsherError(code).status;
}

function answer(res: ServerResponse, status: number, body: unknown, cors: string | undefined): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(cors === undefined ? {} : { 'access-control-allow-origin': cors, vary: 'Origin' }),
  });
  res.end(text);
}

/** `::ffff:203.0.113.9` (IPv4 on a dual-stack socket) → `203.0.113.9`. */
function unmap(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
