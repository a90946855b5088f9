// Media server ↔ broker control channel (broker WebSocket `/v1/control`). The media
// server dials the broker, proves the shared secret with a short-lived token, announces
// its public URL and current rooms, then reports load on every heartbeat.
import Type, { type Static } from 'typebox';
import { DisplayName, ErrorMessage, RoomName, ServerId, SessionId, Version, WsUrl } from './common.ts';
import { Identity } from './join-token.ts';

export const RoomLoad = Type.Object(
  { room: RoomName, peers: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

/** Most membership changes one report carries; a media server reports early rather than exceed it. */
export const MAX_REPORTED_CHANGES = 1000;

/** Most members a register carries (within the control frame limit). */
export const MAX_REGISTERED_PARTICIPANTS = 4000;

/** A member of a room on the reporting server (`joinedAt`: epoch ms on that server's clock). */
export const ControlParticipant = Type.Object(
  {
    room: RoomName,
    peerId: SessionId,
    identity: Identity,
    name: DisplayName,
    joinedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ControlParticipant = Static<typeof ControlParticipant>;

/** Why a member left: on its own (`left`), removed by the server API, replaced by its identity, or its connection dropped. */
export const LeaveReason = Type.Union([
  Type.Literal('left'),
  Type.Literal('removed'),
  Type.Literal('replaced'),
  Type.Literal('lost'),
]);
export type LeaveReason = Static<typeof LeaveReason>;

/** A membership that ended: `joinedAt` names which one (a peer id may rejoin). */
export const ControlParticipantLeft = Type.Object(
  {
    room: RoomName,
    peerId: SessionId,
    joinedAt: Type.Integer({ minimum: 0 }),
    reason: LeaveReason,
  },
  { additionalProperties: false },
);
export type ControlParticipantLeft = Static<typeof ControlParticipantLeft>;

/** One membership change, in a report's ordered `changes`: a member joined, or a membership ended. */
export const ControlMemberChange = Type.Union([
  Type.Object(
    { event: Type.Literal('joined'), ...ControlParticipant.properties },
    { additionalProperties: false },
  ),
  Type.Object(
    { event: Type.Literal('left'), ...ControlParticipantLeft.properties },
    { additionalProperties: false },
  ),
]);
export type ControlMemberChange = Static<typeof ControlMemberChange>;

export const Capacity = Type.Object(
  {
    maxRooms: Type.Integer({ minimum: 1 }),
    maxPeersPerRoom: Type.Integer({ minimum: 1 }),
    maxPeers: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type Capacity = Static<typeof Capacity>;

export const Register = Type.Object(
  {
    type: Type.Literal('register'),
    v: Version,
    id: ServerId,
    url: WsUrl,
    /** HS256 JWT from the shared secret: sub = id, aud = 'usher-control', short exp. */
    token: Type.String({ minLength: 1, maxLength: 2048 }),
    capacity: Capacity,
    draining: Type.Boolean(),
    /** Epoch ms the media server process started: with `id`, names this server's life (webhook ids). */
    startedAt: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Rooms live on this server now: lets a restarted broker rebuild its pins. */
    rooms: Type.Array(RoomLoad, { maxItems: 100_000 }),
    /**
     * Members of those rooms, so a restarted broker rebuilds who is where: the first
     * MAX_REGISTERED_PARTICIPANTS here, the rest as `joined` changes in the reports that follow at once.
     */
    members: Type.Optional(Type.Array(ControlParticipant, { maxItems: MAX_REGISTERED_PARTICIPANTS })),
  },
  { additionalProperties: false },
);
export type Register = Static<typeof Register>;

/** Heartbeat; its absence for the broker's heartbeat timeout means the server is gone. */
export const LoadReport = Type.Object(
  {
    type: Type.Literal('load'),
    v: Version,
    peers: Type.Integer({ minimum: 0 }),
    rooms: Type.Integer({ minimum: 0 }),
    draining: Type.Boolean(),
    /** Rooms that opened or emptied since the previous report. */
    opened: Type.Array(RoomName, { maxItems: 100_000 }),
    closed: Type.Array(RoomName, { maxItems: 100_000 }),
    /**
     * Membership changes since the previous report, in the order they happened on the server
     * (the broker applies them so: room starts and ends follow the real overlap of members).
     */
    changes: Type.Optional(Type.Array(ControlMemberChange, { maxItems: MAX_REPORTED_CHANGES })),
    /** Seats confirmed (to any broker) and not yet joined: they count against capacity as peers do. */
    seats: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type LoadReport = Static<typeof LoadReport>;

/**
 * The broker asks the server to hold one seat for a session before it sends the client there
 * (docs/ARCHITECTURE.md "Server-confirmed seats"). Pipelined: many in flight per control
 * connection, each answered once, by `id`, with `reserved` or `refused`.
 */
export const SeatReserve = Type.Object(
  {
    type: Type.Literal('reserve'),
    v: Version,
    /** Unique among this connection's requests in flight. */
    id: Type.String({ minLength: 1, maxLength: 64 }),
    room: RoomName,
    sessionId: SessionId,
    identity: Identity,
    name: DisplayName,
    /** The join token's grants as letters (p publish, d data, m move, a admin); absent = open mode's. */
    grants: Type.Optional(Type.String({ maxLength: 4, pattern: '^p?d?m?a?$' })),
    /** Epoch ms: the seat is released if nobody joins with it by then. */
    expiresAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type SeatReserve = Static<typeof SeatReserve>;

/** The seat is held: `confirmation` is the server's own signed word (HS256 compact JWS), the client's join ticket. */
export const SeatReserved = Type.Object(
  {
    type: Type.Literal('reserved'),
    v: Version,
    id: Type.String({ minLength: 1, maxLength: 64 }),
    confirmation: Type.String({ minLength: 1, maxLength: 2048 }),
  },
  { additionalProperties: false },
);
export type SeatReserved = Static<typeof SeatReserved>;

/** No seat: full (server or room) or draining. The broker asks this server nothing more until its next load report. */
export const SeatRefused = Type.Object(
  {
    type: Type.Literal('refused'),
    v: Version,
    id: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.Union([
      Type.Literal('SERVER_FULL'),
      Type.Literal('ROOM_FULL'),
      Type.Literal('SERVER_DRAINING'),
    ]),
  },
  { additionalProperties: false },
);
export type SeatRefused = Static<typeof SeatRefused>;

export const ControlInbound = Type.Union([Register, LoadReport, SeatReserved, SeatRefused]);
export type ControlInbound = Static<typeof ControlInbound>;

export const Registered = Type.Object(
  {
    type: Type.Literal('registered'),
    v: Version,
    /** Send `load` at least this often; silence for timeoutMs ⇒ the broker drops the server. */
    heartbeat: Type.Object(
      { intervalMs: Type.Integer({ minimum: 1 }), timeoutMs: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Registered = Static<typeof Registered>;

/** Admin asked the server to drain: tell clients to migrate, take no new joins. */
export const Drain = Type.Object(
  { type: Type.Literal('drain'), v: Version },
  { additionalProperties: false },
);
export type Drain = Static<typeof Drain>;

/**
 * The room's members must gather on another server: send them `migrate` (they come back to
 * the broker excluding this server, keeping their peer ids). `moved`: the room's pin moved
 * away from this live server; `split`: another server holds the room live too and won.
 */
export const RoomMigrate = Type.Object(
  {
    type: Type.Literal('migrate'),
    v: Version,
    room: RoomName,
    reason: Type.Union([Type.Literal('moved'), Type.Literal('split')]),
  },
  { additionalProperties: false },
);
export type RoomMigrate = Static<typeof RoomMigrate>;

/**
 * The server API removes a participant (`removed`) or closes the room (`closed`): every member
 * of the room with this identity gets PARTICIPANT_REMOVED and its connection is closed.
 */
export const RemoveParticipant = Type.Object(
  {
    type: Type.Literal('remove'),
    v: Version,
    room: RoomName,
    identity: Identity,
    reason: Type.Union([Type.Literal('removed'), Type.Literal('closed')]),
  },
  { additionalProperties: false },
);
export type RemoveParticipant = Static<typeof RemoveParticipant>;

/** Everything the broker may send a media server (`error` refuses a registration or a frame). */
export const ControlOutbound = Type.Union([
  Registered,
  Drain,
  RoomMigrate,
  RemoveParticipant,
  SeatReserve,
  ErrorMessage,
]);
export type ControlOutbound = Static<typeof ControlOutbound>;

export { ServerId };
