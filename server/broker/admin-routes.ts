// Admin API (`/admin/v1/*`, bearer token): list servers and room pins, drain a server.
// Registered only when a token is configured; otherwise these paths are plain 404s.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Fleet } from './fleet.ts';
import { sendError } from './http-errors.ts';
import type { PinStore } from './pin-store.ts';
import { loadScore, type ServerRegistry } from './registry.ts';

export interface AdminRoutesOptions {
  token: string;
  registry: ServerRegistry;
  pins: PinStore;
  fleet: Fleet;
  now: () => number;
}

/** Constant-time in the token's content and length: both sides are hashed first. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (match === null) return false;
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

export function registerAdminRoutes(app: FastifyInstance, options: AdminRoutesOptions): void {
  const { token, registry, pins, fleet, now } = options;

  const authorize = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    if (bearerMatches(request.headers.authorization, token)) return undefined;
    reply.header('www-authenticate', 'Bearer realm="usher-admin"');
    return sendError(reply, 'UNAUTHORIZED', null);
  };

  app.get('/admin/v1/servers', { onRequest: authorize }, async () => {
    const at = now();
    return {
      servers: registry.all().map((server) => ({
        id: server.id,
        url: server.url,
        healthy: server.healthy,
        draining: server.draining,
        load: Math.round(loadScore(server) * 10_000) / 10_000,
        peers: server.reportedPeers,
        capacity: server.capacity,
        rooms: server.rooms.size,
        lastSeenMs: server.lastSeen,
        lastSeenAgoMs: Math.max(0, at - server.lastSeen),
      })),
    };
  });

  app.get('/admin/v1/rooms', { onRequest: authorize }, async () => {
    const entries = await pins.entries();
    return {
      rooms: entries.map(([room, pin]) => ({ room, server: pin.serverId, assignedAt: pin.assignedAt })),
    };
  });

  app.post<{ Params: { id: string } }>(
    '/admin/v1/servers/:id/drain',
    { onRequest: authorize },
    async (request, reply) => {
      const server = fleet.drain(request.params.id);
      if (server === undefined) return sendError(reply, 'NOT_FOUND', null, 'no such media server');
      return { id: server.id, draining: true };
    },
  );
}
