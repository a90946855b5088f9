// One session request → one `session.assigned`: checks the resume proof, picks the server,
// signs the ticket and adds the client's ping, ICE and observed-address settings.
import type { IceServer, SessionAssigned, SessionRequest } from '../../shared/protocol/broker.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import type { KeyRing } from '../common/keys.ts';
import { randomId, resumedSessionId, signTicket } from '../common/tickets.ts';
import { type TurnConfig, turnCredentials } from '../common/turn.ts';
import type { Assigner } from './assignment.ts';
import type { MediaServer } from './registry.ts';

export interface ClientAddress {
  address: string;
  port?: number;
}

export interface SessionServiceOptions {
  keys: KeyRing;
  assigner: Assigner;
  ping: { intervalMs: number; timeoutMs: number };
  ticketTtlSeconds: number;
  /** A ticket proves its session on failover for this long after it was signed. */
  resumeTtlSeconds: number;
  iceServers: { stunUrls?: string[]; turn?: TurnConfig };
  now: () => number;
}

export type SessionService = (request: SessionRequest, client: ClientAddress) => Promise<SessionAssigned>;

/** Throws UsherError (BAD_RESUME, NO_SERVER_AVAILABLE); the caller answers with its code. */
export function createSessionService(options: SessionServiceOptions): SessionService {
  const { keys, assigner, ping, ticketTtlSeconds, resumeTtlSeconds, iceServers, now } = options;
  const stun: IceServer[] =
    iceServers.stunUrls !== undefined && iceServers.stunUrls.length > 0
      ? [{ urls: iceServers.stunUrls }]
      : [];

  // Parts of every reply that do not change per request: built once, shared by all replies
  // (they are only ever serialised).
  const pingSettings = { intervalMs: ping.intervalMs, timeoutMs: ping.timeoutMs };
  const serverRefs = new WeakMap<MediaServer, { id: string; url: string }>();
  const serverRef = (server: MediaServer): { id: string; url: string } => {
    let ref = serverRefs.get(server);
    if (ref === undefined) {
      ref = { id: server.id, url: server.url };
      serverRefs.set(server, ref);
    }
    return ref;
  };

  return async (request, client) => {
    // Checked before assignment so a forged resume costs no capacity. The reply's ticket is
    // the client's next proof, so no separate resume token is signed per request.
    const sessionId =
      request.resume === undefined
        ? randomId()
        : resumedSessionId(keys, request.resume, request.room, resumeTtlSeconds, now());
    const server = await assigner.assign(request.room, request.exclude);
    const issuedAt = now();
    const { ticket, claims } = signTicket(
      keys,
      {
        sessionId,
        room: request.room,
        serverId: server.id,
        name: request.name ?? '',
        ttlSeconds: ticketTtlSeconds,
      },
      issuedAt,
    );
    const ice =
      iceServers.turn === undefined ? stun : [...stun, turnCredentials(iceServers.turn, sessionId, issuedAt)];
    return {
      type: 'session.assigned',
      v: PROTOCOL_VERSION,
      id: request.id,
      sessionId,
      room: request.room,
      server: serverRef(server),
      ticket,
      ticketExpiresAt: claims.exp * 1000,
      ping: pingSettings,
      iceServers: ice,
      client:
        client.port === undefined
          ? { address: client.address }
          : { address: client.address, port: client.port },
    };
  };
}
