// The server API (`/v1/rooms…`, bearer server token): what the application's backend reads
// and sends. One schema per answer and body; the broker validates with them, docs/INTEGRATION.md
// describes them.
import Type, { type Static } from 'typebox';
import { DisplayName, RoomName, ServerId, SessionId } from './common.ts';
import { Identity } from './join-token.ts';

/** The JWS `typ` of a server token: a join token or webhook signature never passes as one. */
export const SERVER_TOKEN_TYPE = 'usher-server+jwt';

export const RoomParticipant = Type.Object(
  {
    identity: Identity,
    name: DisplayName,
    peerId: SessionId,
    /** Epoch ms, on the media server's clock. */
    joinedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type RoomParticipant = Static<typeof RoomParticipant>;

export const RoomInfo = Type.Object(
  {
    room: RoomName,
    /** The media server holding the room (during a move, the one it is leaving until it has left). */
    server: ServerId,
    /** Epoch ms the room's life on that server began. */
    openedAt: Type.Integer({ minimum: 0 }),
    participants: Type.Array(RoomParticipant),
  },
  { additionalProperties: false },
);
export type RoomInfo = Static<typeof RoomInfo>;

export const RoomList = Type.Object({ rooms: Type.Array(RoomInfo) }, { additionalProperties: false });
export type RoomList = Static<typeof RoomList>;

/** `DELETE /v1/rooms/:room/participants/:identity` and `DELETE /v1/rooms/:room`. */
export const RemovalResult = Type.Object(
  {
    room: RoomName,
    /** Connections told to close (a participant may have more than one server during a move). */
    removed: Type.Array(Identity),
  },
  { additionalProperties: false },
);
export type RemovalResult = Static<typeof RemovalResult>;

/** `POST /v1/rooms/:room/move` body: where to (default: the least-loaded other server). */
export const MoveRoomRequest = Type.Object({ to: Type.Optional(ServerId) }, { additionalProperties: false });
export type MoveRoomRequest = Static<typeof MoveRoomRequest>;

export const MoveRoomResult = Type.Object(
  { room: RoomName, from: ServerId, to: ServerId, cause: Type.Literal('operator') },
  { additionalProperties: false },
);
export type MoveRoomResult = Static<typeof MoveRoomResult>;
