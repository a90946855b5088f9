// One session request → one `session.assigned`: checks admission (the join token or the resume
// proof), picks the server, signs the ticket and adds the client's ping, ICE and observed-address
// settings.
import type { IceServer, SessionAssigned, SessionRequest } from '../../shared/protocol/broker.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { type ApiKeys, verifyJoinToken } from '../common/join-token.ts';
import type { KeyRing } from '../common/keys.ts';
import { randomId, readResumeProof, signTicket, type TicketGrants } from '../common/tickets.ts';
import { type TurnConfig, turnCredentials } from '../common/turn.ts';
import type { Assigner } from './assignment.ts';
import type { MediaServer } from './registry.ts';

export interface ClientAddress {
  address: string;
  port?: number;
}

/**
 * Who may join which room. `token`: a join token signed with one of `apiKeys` (or a resume
 * proof of a session it admitted); `open`: anyone, any room (the client names itself).
 */
export type BrokerAuth = { mode: 'token'; apiKeys: ApiKeys } | { mode: 'open' };

export interface SessionServiceOptions {
  keys: KeyRing;
  auth: BrokerAuth;
  assigner: Assigner;
  ping: { intervalMs: number; timeoutMs: number };
  ticketTtlSeconds: number;
  /** A ticket proves its session on failover for this long after it was signed. */
  resumeTtlSeconds: number;
  iceServers: { stunUrls?: string[]; turn?: TurnConfig };
  now: () => number;
}

export type SessionService = (request: SessionRequest, client: ClientAddress) => Promise<SessionAssigned>;

/** Who the ticket is for, and whether their `exclude` may move the room off a healthy server. */
interface Admitted {
  sessionId: string;
  /** Undefined in open mode: the ticket's identity is the session id. */
  identity: string | undefined;
  name: string;
  grants: TicketGrants | undefined;
  mayMoveRoom: boolean;
}

/**
 * Throws UsherError (TOKEN_*, BAD_RESUME, NO_SERVER_AVAILABLE); the caller answers with its
 * code. Admission is checked synchronously, before anything is assigned or signed.
 */
export function createSessionService(options: SessionServiceOptions): SessionService {
  const { keys, auth, assigner, ping, ticketTtlSeconds, resumeTtlSeconds, iceServers, now } = options;
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

  /**
   * A resume proof (the last ticket for this room) admits on its own for the resume TTL, so a
   * failover needs nothing from the application's backend; it also proves membership, which an
   * `exclude` of the room's healthy server needs (with the move grant) in token mode.
   */
  const admit = (request: SessionRequest): Admitted => {
    if (request.resume !== undefined) {
      const proof = readResumeProof(keys, request.resume, request.room, resumeTtlSeconds, now());
      if (auth.mode === 'open')
        return {
          sessionId: proof.sessionId,
          identity: undefined,
          name: request.name ?? '',
          grants: undefined,
          mayMoveRoom: true,
        };
      return {
        sessionId: proof.sessionId,
        identity: proof.identity,
        name: proof.name,
        grants: proof.grants,
        mayMoveRoom: proof.grants.move,
      };
    }
    if (auth.mode === 'open')
      return {
        sessionId: randomId(),
        identity: undefined,
        name: request.name ?? '',
        grants: undefined,
        mayMoveRoom: true,
      };
    const token = verifyJoinToken(auth.apiKeys, request.token, request.room, now());
    const { publish, data, move, admin } = token.grants;
    return {
      sessionId: randomId(),
      identity: token.identity,
      name: token.name,
      grants: { publish, data, move, admin },
      // Not a member yet: a newcomer's exclude never moves a room off a healthy server.
      mayMoveRoom: false,
    };
  };

  return async (request, client) => {
    // Checked before assignment so a refused or forged request costs no capacity. The reply's
    // ticket is the client's next proof, so no separate resume token is signed per request.
    const admitted = admit(request);
    const { sessionId } = admitted;
    const server = await assigner.assign(request.room, request.exclude, {
      memberMove: admitted.mayMoveRoom,
    });
    const issuedAt = now();
    const { ticket, claims } = signTicket(
      keys,
      {
        sessionId,
        room: request.room,
        serverId: server.id,
        name: admitted.name,
        ttlSeconds: ticketTtlSeconds,
        ...(admitted.identity === undefined ? {} : { identity: admitted.identity }),
        ...(admitted.grants === undefined ? {} : { grants: admitted.grants }),
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
