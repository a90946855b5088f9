// One session request → one `session.assigned`: checks admission (the join token or the resume
// proof), picks the server, signs the ticket and adds the client's ping, ICE and observed-address
// settings.

import { UsherError } from '../../shared/errors.ts';
import type { IceServer, SessionAssigned, SessionRequest } from '../../shared/protocol/broker.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { type ApiKeys, verifyJoinToken } from '../common/join-token.ts';
import type { KeyRing } from '../common/keys.ts';
import { grantLetters, randomId, readResumeProof, signTicket, type TicketGrants } from '../common/tickets.ts';
import { type TurnConfig, turnCredentials } from '../common/turn.ts';
import type { Assigner, MoveCause } from './assignment.ts';
import type { BrokerMetrics } from './metrics.ts';
import { type MediaServer, Reserved, type ServerRegistry } from './registry.ts';
import type { SeatOutcome, SeatRequest } from './seat-requests.ts';

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
  /** Server-confirmed seats (docs/ARCHITECTURE.md "Server-confirmed seats"); undefined: off. */
  seats?: SeatConfirmation;
}

/** How the broker asks the assigned server for a seat before it answers the client. */
export interface SeatConfirmation {
  reserve(server: MediaServer, request: SeatRequest, timeoutMs: number): Promise<SeatOutcome>;
  registry: ServerRegistry;
  metrics: BrokerMetrics;
  /** A server that has not confirmed within this long is passed over (default 250). */
  timeoutMs: number;
  /** The seat is held this long for the client's join (default 15 000). */
  windowMs: number;
  /** Servers tried per request before NO_SERVER_AVAILABLE (default 3). */
  maxServers?: number;
  onUnconfirmed?(server: MediaServer, room: string, outcome: SeatOutcome): void;
}

export const DEFAULT_SEAT_TIMEOUT_MS = 250;
export const DEFAULT_SEAT_WINDOW_MS = 15_000;

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
  const { keys, auth, assigner, ping, ticketTtlSeconds, resumeTtlSeconds, iceServers, now, seats } = options;
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

  /**
   * Assign, then ask that server for a seat; a server that refuses or does not confirm in time
   * is withheld (no more seats until its next load report) and the next one is tried. A room
   * whose server stops confirming moves (cause `frozen`, `drained` for a draining refusal);
   * a room whose server is full stays there and the request fails (moving it would split it).
   */
  const confirmedSeat = async (
    request: SessionRequest,
    admitted: Admitted,
  ): Promise<{ server: MediaServer; seat: string }> => {
    const confirm = seats as SeatConfirmation;
    const withheld = new Map<string, MoveCause>();
    const maxServers = confirm.maxServers ?? 3;
    for (let tried = 0; tried < maxServers; tried++) {
      const server = await assigner.assign(request.room, request.exclude, {
        memberMove: admitted.mayMoveRoom,
        withheld,
      });
      const outcome = await confirm.reserve(
        server,
        {
          room: request.room,
          sessionId: admitted.sessionId,
          identity: admitted.identity ?? admitted.sessionId,
          name: admitted.name,
          ...(admitted.grants === undefined ? {} : { grants: grantLetters(admitted.grants) }),
          expiresAt: now() + confirm.windowMs,
        },
        confirm.timeoutMs,
      );
      confirm.metrics.seatReservations.inc({
        outcome: outcome.kind === 'refused' ? outcome.code : outcome.kind,
      });
      if (outcome.kind === 'reserved') return { server, seat: outcome.confirmation };
      // The seat the assignment counted was not taken.
      confirm.registry.release(server, request.room, Reserved.seat);
      confirm.onUnconfirmed?.(server, request.room, outcome);
      if (outcome.kind === 'refused') {
        if (outcome.code === 'ROOM_FULL') throw new UsherError('NO_SERVER_AVAILABLE', 'the room is full');
        confirm.registry.seatRefused(server, outcome.code);
        if (outcome.code === 'SERVER_FULL' && server.rooms.has(request.room))
          throw new UsherError('NO_SERVER_AVAILABLE', "the room's server is full");
        withheld.set(server.id, outcome.code === 'SERVER_DRAINING' ? 'drained' : 'member');
      } else {
        if (outcome.kind === 'timeout') {
          confirm.metrics.seatTimeouts.inc({ server: server.id });
          confirm.registry.seatRefused(server, 'timeout');
        }
        withheld.set(server.id, 'frozen');
      }
    }
    throw new UsherError('NO_SERVER_AVAILABLE', 'no media server confirmed a seat');
  };

  return async (request, client) => {
    // Checked before assignment so a refused or forged request costs no capacity. The reply's
    // ticket is the client's next proof, so no separate resume token is signed per request.
    const admitted = admit(request);
    const { sessionId } = admitted;
    let server: MediaServer;
    let seat: string | undefined;
    if (seats === undefined) {
      server = await assigner.assign(request.room, request.exclude, { memberMove: admitted.mayMoveRoom });
    } else {
      ({ server, seat } = await confirmedSeat(request, admitted));
    }
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
      ...(seat === undefined ? {} : { seat }),
      ping: pingSettings,
      iceServers: ice,
      client:
        client.port === undefined
          ? { address: client.address }
          : { address: client.address, port: client.port },
    };
  };
}
