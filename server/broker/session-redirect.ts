// Redirect mode of `POST /v1/sessions?redirect=1`: the broker admits and assigns exactly as for
// a direct answer, then sends the client to the assigned server's own session endpoint with a
// signed grant, and that server answers `session.assigned` itself. docs/ARCHITECTURE.md
// "Redirect mode".
import type { SessionRedirect, SessionRequest } from '../../shared/protocol/broker.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import type { KeyRing } from '../common/keys.ts';
import { signRedirectGrant } from '../common/redirect-grant.ts';
import type { ClientAddress, SessionService } from './sessions.ts';

export interface SessionRedirectsOptions {
  keys: KeyRing;
  /**
   * Admission and assignment, without seat confirmation: in redirect mode the server takes the
   * seat from its own book when the client arrives, so asking it over the control channel first
   * would hold a second seat.
   */
  sessions: SessionService;
  grantTtlMs: number;
  now: () => number;
}

/** Throws what the session service throws (TOKEN_*, BAD_RESUME, NO_SERVER_AVAILABLE). */
export type SessionRedirects = (
  request: SessionRequest,
  client: ClientAddress,
  origin: string | undefined,
) => Promise<SessionRedirect>;

export function createSessionRedirects(options: SessionRedirectsOptions): SessionRedirects {
  const { keys, sessions, grantTtlMs, now } = options;
  return async (request, client, origin) => {
    const assigned = await sessions(request, client);
    const expiresAt = Math.min(assigned.ticketExpiresAt, now() + grantTtlMs);
    const grant = signRedirectGrant(keys, {
      serverId: assigned.server.id,
      ticket: assigned.ticket,
      ping: assigned.ping,
      iceServers: assigned.iceServers,
      ...(origin === undefined ? {} : { origin }),
      expiresAt,
    });
    return {
      type: 'session.redirect',
      v: PROTOCOL_VERSION,
      id: request.id,
      location: `${sessionsEndpoint(assigned.server.url)}?grant=${grant}`,
      expiresAt,
    };
  };
}

/**
 * A media server's session endpoint from the URL it registered: `sessions` next to its `media`
 * path segment, over http(s) (`wss://h/m/media-1/v1/media` → `https://h/m/media-1/v1/sessions`),
 * so a front that routes a path prefix to the server routes this too.
 */
export function sessionsEndpoint(mediaUrl: string): string {
  const url = new URL('sessions', mediaUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.search = '';
  url.hash = '';
  return url.href;
}
