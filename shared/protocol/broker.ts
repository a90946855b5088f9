// Client ↔ broker: the session request and its reply. Sent over the broker's
// WebSocket `/v1/session` (many requests per connection, correlated by `id`) or as
// the body of `POST /v1/sessions`.
import Type, { type Static } from 'typebox';
import {
  DisplayName,
  ErrorMessage,
  Limits,
  PingConfig,
  RequestId,
  RoomName,
  ServerId,
  SessionId,
  Ticket,
  Version,
  WsUrl,
} from './common.ts';
import { JOIN_TOKEN_MAX_CHARS } from './join-token.ts';

export const SessionRequest = Type.Object(
  {
    type: Type.Literal('session.request'),
    v: Version,
    id: RequestId,
    room: RoomName,
    name: Type.Optional(DisplayName),
    /** Servers the client found dead; the room moves off them if it is pinned there. */
    exclude: Type.Optional(Type.Array(ServerId, { maxItems: Limits.excludeMax })),
    /**
     * Keep the same session (peer id) across a failover: the `ticket` of the last
     * `session.assigned` for this room, which proves the session is the caller's.
     */
    resume: Type.Optional(Ticket),
    /**
     * The join token from the application's backend (token mode). Not needed with a valid
     * `resume`; over HTTP it may come as `Authorization: Bearer <token>` instead.
     */
    token: Type.Optional(Type.String({ minLength: 1, maxLength: JOIN_TOKEN_MAX_CHARS })),
  },
  { additionalProperties: false },
);
export type SessionRequest = Static<typeof SessionRequest>;

export const IceServer = Type.Object(
  {
    urls: Type.Union([Type.String(), Type.Array(Type.String())]),
    username: Type.Optional(Type.String()),
    credential: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type IceServer = Static<typeof IceServer>;

export const SessionAssigned = Type.Object(
  {
    type: Type.Literal('session.assigned'),
    v: Version,
    id: RequestId,
    sessionId: SessionId,
    room: RoomName,
    server: Type.Object({ id: ServerId, url: WsUrl }, { additionalProperties: false }),
    /**
     * Single-use and short-lived for the join (the first message to the server is `join`
     * with it); kept afterwards as the proof to send in `resume` on failover.
     */
    ticket: Ticket,
    /** Epoch ms after which the ticket is refused. */
    ticketExpiresAt: Type.Integer(),
    /**
     * The assigned server's own confirmation of a seat held for this session (HS256 compact
     * JWS it signed; payload names `srv`, `url`, `room`, `sub`, `exp`). When present it is the
     * join ticket, and the client checks it names `server` before dialing; `ticket` stays
     * the resume proof.
     */
    seat: Type.Optional(Ticket),
    ping: PingConfig,
    iceServers: Type.Array(IceServer),
    /** The requester's address as the broker saw it (like STUN's mapped address). */
    client: Type.Object(
      { address: Type.String(), port: Type.Optional(Type.Integer()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SessionAssigned = Static<typeof SessionAssigned>;

/**
 * The query of `POST /v1/sessions`. `redirect=1` (or `true`): the broker admits and assigns as
 * always but answers 307 to the assigned server's own session endpoint, which replies
 * `session.assigned` itself (docs/ARCHITECTURE.md "Redirect mode"). Other parameters are ignored.
 */
export const SessionsQuery = Type.Object({
  redirect: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true')])),
});
export type SessionsQuery = Static<typeof SessionsQuery>;

/**
 * The body of the broker's 307 to `POST /v1/sessions?redirect=1`; `location` is also the
 * `Location` header. Following it (POST, the same body) the assigned server answers
 * `session.assigned` or an `error`. The grant in its query admits once, until `expiresAt`.
 */
export const SessionRedirect = Type.Object(
  {
    type: Type.Literal('session.redirect'),
    v: Version,
    id: RequestId,
    /** `http(s)://<assigned server>/…/v1/sessions?grant=<broker-signed grant>`. */
    location: Type.String({ minLength: 8, maxLength: 8192, pattern: '^https?://' }),
    /** Epoch ms after which the server refuses the grant (`TICKET_EXPIRED`). */
    expiresAt: Type.Integer(),
  },
  { additionalProperties: false },
);
export type SessionRedirect = Static<typeof SessionRedirect>;

/** Everything a client may send the broker. */
export const BrokerInbound = Type.Union([SessionRequest]);
export type BrokerInbound = Static<typeof BrokerInbound>;
/** Everything the broker may send a client. */
export const BrokerOutbound = Type.Union([SessionAssigned, SessionRedirect, ErrorMessage]);
export type BrokerOutbound = Static<typeof BrokerOutbound>;
