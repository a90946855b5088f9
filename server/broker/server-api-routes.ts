// The server API (`/v1/rooms…`): the application's backend lists rooms and their members,
// removes a participant, closes a room and moves a room, authenticated by a server token
// (server/common/server-token.ts) signed with one of its API keys.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Compile } from 'typebox/compile';
import { UsherError } from '../../shared/errors.ts';
import { RoomName } from '../../shared/protocol/common.ts';
import { Identity } from '../../shared/protocol/join-token.ts';
import {
  MoveRoomRequest,
  type MoveRoomResult,
  type RemovalResult,
  type RoomInfo,
  type RoomList,
} from '../../shared/protocol/server-api.ts';
import type { ApiKeys } from '../common/join-token.ts';
import { verifyServerToken } from '../common/server-token.ts';
import type { Assigner } from './assignment.ts';
import type { Fleet } from './fleet.ts';
import { sendError } from './http-errors.ts';
import type { MediaServer, RoomMembers, ServerRegistry } from './registry.ts';

export interface ServerApiRoutesOptions {
  apiKeys: ApiKeys;
  registry: ServerRegistry;
  assigner: Assigner;
  fleet: Fleet;
  now: () => number;
}

const checkRoom = Compile(RoomName);
const checkIdentity = Compile(Identity);
const checkMove = Compile(MoveRoomRequest);

type RoomParams = { room: string };

export function registerServerApiRoutes(app: FastifyInstance, options: ServerApiRoutesOptions): void {
  const { apiKeys, registry, assigner, fleet, now } = options;

  const authorize = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    try {
      verifyServerToken(apiKeys, request.headers.authorization, now());
      return undefined;
    } catch (error) {
      if (!(error instanceof UsherError)) throw error;
      reply.header('www-authenticate', 'Bearer realm="usher-server-api"');
      return sendError(reply, error.code, null, error.message);
    }
  };

  /** The room's entry on the server that holds it; ROOM_NOT_FOUND when no server has members in it. */
  const roomInfo = (room: string): { info: RoomInfo; servers: MediaServer[] } => {
    if (!checkRoom.Check(room)) throw new UsherError('ROOM_NOT_FOUND');
    const held = registry.membersOf(room);
    const first = held[0];
    if (first === undefined) throw new UsherError('ROOM_NOT_FOUND');
    return { info: roomEntry(room, first.server, first.room), servers: held.map((entry) => entry.server) };
  };

  app.get('/v1/rooms', { onRequest: authorize }, async (): Promise<RoomList> => {
    const rooms: RoomInfo[] = [];
    const seen = new Set<string>();
    for (const server of registry.all()) {
      for (const room of server.roomMembers.keys()) {
        if (seen.has(room)) continue;
        seen.add(room);
        rooms.push(roomInfo(room).info);
      }
    }
    return { rooms };
  });

  app.get<{ Params: RoomParams }>('/v1/rooms/:room', { onRequest: authorize }, async (request) => {
    return roomInfo(request.params.room).info;
  });

  app.delete<{ Params: RoomParams & { identity: string } }>(
    '/v1/rooms/:room/participants/:identity',
    { onRequest: authorize },
    async (request): Promise<RemovalResult> => {
      const { room, identity } = request.params;
      if (!checkIdentity.Check(identity)) throw new UsherError('PARTICIPANT_NOT_FOUND');
      const { servers } = roomInfo(room);
      let told = false;
      for (const server of servers) {
        const members = server.roomMembers.get(room)?.members.values() ?? [];
        if ([...members].some((member) => member.identity === identity))
          told = fleet.removeParticipant(server, room, identity, 'removed') || told;
      }
      if (!told) throw new UsherError('PARTICIPANT_NOT_FOUND');
      return { room, removed: [identity] };
    },
  );

  app.delete<{ Params: RoomParams }>(
    '/v1/rooms/:room',
    { onRequest: authorize },
    async (request): Promise<RemovalResult> => {
      const { room } = request.params;
      const { servers } = roomInfo(room);
      const removed = new Set<string>();
      for (const server of servers) {
        const identities = new Set(
          [...(server.roomMembers.get(room)?.members.values() ?? [])].map((member) => member.identity),
        );
        for (const identity of identities)
          if (fleet.removeParticipant(server, room, identity, 'closed')) removed.add(identity);
      }
      return { room, removed: [...removed] };
    },
  );

  app.post<{ Params: RoomParams }>(
    '/v1/rooms/:room/move',
    { onRequest: authorize },
    async (request, reply): Promise<MoveRoomResult | FastifyReply> => {
      const { room } = request.params;
      const body: unknown = request.body ?? {};
      if (!checkMove.Check(body))
        return sendError(reply, 'BAD_MESSAGE', null, 'body must be {} or {"to": "<server id>"}');
      if (!checkRoom.Check(room)) throw new UsherError('ROOM_NOT_FOUND');
      const move = await assigner.moveRoom(room, body.to);
      return { room, from: move.from, to: move.to, cause: 'operator' };
    },
  );
}

function roomEntry(room: string, server: MediaServer, entry: RoomMembers): RoomInfo {
  return {
    room,
    server: server.id,
    openedAt: entry.openedAt,
    participants: [...entry.members.values()].map((member) => ({
      identity: member.identity,
      name: member.name,
      peerId: member.peerId,
      joinedAt: member.joinedAt,
    })),
  };
}
