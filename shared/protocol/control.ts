// Media server ↔ broker control channel (broker WebSocket `/v1/control`). The media
// server dials the broker, proves the shared secret with a short-lived token, announces
// its public URL and current rooms, then reports load on every heartbeat.
import Type, { type Static } from 'typebox';
import { ErrorMessage, RoomName, ServerId, Version, WsUrl } from './common.ts';

export const RoomLoad = Type.Object(
  { room: RoomName, peers: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

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
    /** Rooms live on this server now: lets a restarted broker rebuild its pins. */
    rooms: Type.Array(RoomLoad, { maxItems: 100_000 }),
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
  },
  { additionalProperties: false },
);
export type LoadReport = Static<typeof LoadReport>;

export const ControlInbound = Type.Union([Register, LoadReport]);
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

/** Everything the broker may send a media server (`error` refuses a registration or a frame). */
export const ControlOutbound = Type.Union([Registered, Drain, RoomMigrate, ErrorMessage]);
export type ControlOutbound = Static<typeof ControlOutbound>;

export { ServerId };
