// Client ↔ media server: join with a ticket, keep-alive pings, signaling relay
// between the peers of one room, and server-initiated migration.
import Type, { type Static } from 'typebox';
import {
  DisplayName,
  ErrorMessage,
  Limits,
  RoomName,
  ServerId,
  SessionId,
  Ticket,
  Version,
} from './common.ts';

// ---- client → server

export const Join = Type.Object(
  {
    type: Type.Literal('join'),
    v: Version,
    ticket: Ticket,
    /** Optional cross-check: must equal the room the ticket was issued for. */
    room: Type.Optional(RoomName),
  },
  { additionalProperties: false },
);
export type Join = Static<typeof Join>;

/** Hot path: `v` is optional on ping/pong (the connection's version was fixed by join). */
export const Ping = Type.Object(
  {
    type: Type.Literal('ping'),
    v: Type.Optional(Version),
    seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type Ping = Static<typeof Ping>;

export const SessionDescription = Type.Object(
  {
    type: Type.Union([Type.Literal('offer'), Type.Literal('answer')]),
    sdp: Type.String({ maxLength: Limits.sdpChars }),
  },
  { additionalProperties: false },
);

export const IceCandidate = Type.Object(
  {
    candidate: Type.String({ maxLength: 1024 }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1024 }), Type.Null()])),
    usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** Opaque-to-the-server WebRTC negotiation payload. */
export const SignalData = Type.Union([
  Type.Object({ description: SessionDescription }, { additionalProperties: false }),
  Type.Object({ candidate: Type.Union([IceCandidate, Type.Null()]) }, { additionalProperties: false }),
]);
export type SignalData = Static<typeof SignalData>;

export const SignalOut = Type.Object(
  { type: Type.Literal('signal'), v: Version, to: SessionId, data: SignalData },
  { additionalProperties: false },
);
export type SignalOut = Static<typeof SignalOut>;

export const Leave = Type.Object(
  { type: Type.Literal('leave'), v: Version },
  { additionalProperties: false },
);
export type Leave = Static<typeof Leave>;

export const MediaInbound = Type.Union([Join, Ping, SignalOut, Leave]);
export type MediaInbound = Static<typeof MediaInbound>;

// ---- server → client

export const PeerInfo = Type.Object(
  { peerId: SessionId, name: DisplayName },
  { additionalProperties: false },
);
export type PeerInfo = Static<typeof PeerInfo>;

export const Joined = Type.Object(
  {
    type: Type.Literal('joined'),
    v: Version,
    room: RoomName,
    server: Type.Object({ id: ServerId }, { additionalProperties: false }),
    /** This connection's peer id (the session id from the ticket). */
    peerId: SessionId,
    /** The other peers already in the room. */
    peers: Type.Array(PeerInfo),
  },
  { additionalProperties: false },
);
export type Joined = Static<typeof Joined>;

export const Pong = Type.Object(
  { type: Type.Literal('pong'), v: Type.Optional(Version), seq: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type Pong = Static<typeof Pong>;

export const SignalIn = Type.Object(
  { type: Type.Literal('signal'), v: Version, from: SessionId, data: SignalData },
  { additionalProperties: false },
);
export type SignalIn = Static<typeof SignalIn>;

export const PeerJoined = Type.Object(
  { type: Type.Literal('peer.joined'), v: Version, peer: PeerInfo },
  { additionalProperties: false },
);
export type PeerJoined = Static<typeof PeerJoined>;

/** `left`: the peer said leave. `disconnected`: its socket dropped; it may come back (keep media). */
export const PeerLeft = Type.Object(
  {
    type: Type.Literal('peer.left'),
    v: Version,
    peerId: SessionId,
    reason: Type.Union([Type.Literal('left'), Type.Literal('disconnected')]),
  },
  { additionalProperties: false },
);
export type PeerLeft = Static<typeof PeerLeft>;

/**
 * Go back to the broker with `exclude: [server id]` (keeping the peer id with `resume`).
 * `draining`: the server is shutting down; `moved`: the room now lives on another server.
 */
export const Migrate = Type.Object(
  {
    type: Type.Literal('migrate'),
    v: Version,
    reason: Type.Union([Type.Literal('draining'), Type.Literal('moved')]),
  },
  { additionalProperties: false },
);
export type Migrate = Static<typeof Migrate>;

export const MediaOutbound = Type.Union([
  Joined,
  Pong,
  SignalIn,
  PeerJoined,
  PeerLeft,
  Migrate,
  ErrorMessage,
]);
export type MediaOutbound = Static<typeof MediaOutbound>;
