// Scenario peer: a full join (POST /v1/sessions, media WebSocket, join/joined, close) against
// Colyseus's matchmake and room join, with the POST on a kept HTTP connection and on a new one.
import type { LoadJob } from '../loadgen/jobs.ts';
import { type LoadContext, loadBounds, singleRole, stackRoles } from './context.ts';
import type { Pair } from './pairs.ts';

export function peerPairs(ctx: LoadContext): Pair[] {
  const { config, wants } = ctx;
  const { stack, colyseus } = ctx.servers;
  if (!wants('peer') || stack === undefined || colyseus === undefined) return [];
  return [true, false].map((kept) => ({
    name: kept ? 'full join' : 'cold full join',
    usher: {
      id: kept ? 'peer.usher' : 'peer.usher.cold',
      label: `join: POST /v1/sessions (${kept ? 'kept' : 'new'} HTTP connection) + media WebSocket + join/joined, close`,
      system: 'usher',
      roles: stackRoles(stack),
      job: (round: number): LoadJob => ({
        ...loadBounds(config, 10_000),
        kind: 'usher-join',
        host: '127.0.0.1',
        port: stack.brokerPort,
        rooms: { prefix: `j${kept ? 'k' : 'c'}${round}`, size: 4 },
        keptHttp: kept,
        serverPids: stack.pids(),
      }),
    },
    reference: {
      id: kept ? 'peer.colyseus' : 'peer.colyseus.cold',
      label: `Colyseus 0.18: POST matchmake (${kept ? 'kept' : 'new'} HTTP connection) + room WebSocket + JOIN_ROOM/ack, close`,
      system: 'colyseus',
      roles: singleRole(colyseus, 'colyseus'),
      job: (): LoadJob => ({
        ...loadBounds(config, 10_000),
        kind: 'colyseus-join',
        host: '127.0.0.1',
        port: colyseus.port,
        roomName: 'bench',
        keptHttp: kept,
        serverPids: [colyseus.process.pid],
      }),
    },
  }));
}
