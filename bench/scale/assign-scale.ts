// How the broker's per-request cost grows with the fleet and the rooms: the real session
// service (assignment, pins, ticket, TURN credentials, resume check) driven in-process — no
// sockets, so only the parts that depend on servers and rooms vary — for 1…50 servers and
// 100…100k pinned rooms; plus a load report and a server loss at each size.
import { Assigner } from '../../server/broker/assignment.ts';
import { MemoryPinStore } from '../../server/broker/pin-store.ts';
import { type MediaServer, ServerRegistry } from '../../server/broker/registry.ts';
import { createSessionService } from '../../server/broker/sessions.ts';
import { parseSecret } from '../../server/common/keys.ts';
import { signTicket } from '../../server/common/tickets.ts';

export interface ScalePoint {
  servers: number;
  rooms: number;
  /** CPU µs per session request for a room already pinned (affinity path). */
  existingRoomUs: number;
  /** CPU µs per session request for a new room (placement path). */
  newRoomUs: number;
  /** CPU µs per failover request (exclude + resume) moving a room off a lost server. */
  failoverUs: number;
  /**
   * CPU µs per load report (10 rooms opened, 10 closed) from one server: grows with the rooms
   * assigned to it but not yet reported open (the measurement's own new rooms are among them).
   */
  loadReportUs: number;
  /** CPU ms for the broker to drop one server and its rooms' pins. */
  serverLostMs: number;
  /** Broker heap growth per pinned room, bytes (rough: one GC'd sample). */
  heapPerRoomBytes: number;
}

const cpuUs = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

async function timed(count: number, body: (i: number) => Promise<unknown>): Promise<number> {
  const start = cpuUs();
  for (let i = 0; i < count; i += 1) await body(i);
  return (cpuUs() - start) / count;
}

export async function measurePoint(servers: number, rooms: number, requests: number): Promise<ScalePoint> {
  const keys = parseSecret('scale-bench-secret-0123456789abcdef');
  const registry = new ServerRegistry();
  const pins = new MemoryPinStore();
  const now = Date.now;
  const assigner = new Assigner({ registry, pins, now, ticketTtlMs: 30_000 });
  const sessions = createSessionService({
    keys,
    auth: { mode: 'open' },
    assigner,
    ping: { intervalMs: 1000, timeoutMs: 2500 },
    ticketTtlSeconds: 30,
    resumeTtlSeconds: 86_400,
    iceServers: {
      stunUrls: ['stun:127.0.0.1:3478'],
      turn: {
        urls: ['turn:127.0.0.1:3478?transport=udp'],
        secret: 'turn-secret-0123456789',
        ttlSeconds: 3600,
      },
    },
    now,
  });
  const fleet: MediaServer[] = [];
  for (let index = 0; index < servers; index += 1) {
    fleet.push(
      registry.add({
        id: `m${index}`,
        url: `ws://127.0.0.1:${10_000 + index}/v1/media`,
        capacity: { maxRooms: 10_000_000, maxPeersPerRoom: 50, maxPeers: 100_000_000 },
        draining: false,
        now: now(),
      }),
    );
  }
  const client = { address: '127.0.0.1', port: 40_000 };
  const request = (room: string, extra: object = {}) => ({
    type: 'session.request' as const,
    v: 1 as const,
    id: 'r',
    room,
    name: 'bench',
    ...extra,
  });

  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  // Steady state: `rooms` rooms pinned and reported open by their servers.
  const opened = new Map<MediaServer, string[]>();
  for (let index = 0; index < rooms; index += 1) {
    const room = `room-${index}`;
    const server = await assigner.assign(room);
    const list = opened.get(server);
    if (list === undefined) opened.set(server, [room]);
    else list.push(room);
  }
  for (const server of fleet) {
    registry.report(server, { peers: 0, rooms: opened.get(server)?.length ?? 0, draining: false }, now());
    await assigner.roomsChanged(server, opened.get(server) ?? [], []);
  }
  globalThis.gc?.();
  // Below 10k rooms the heap's own noise is larger than what the rooms take.
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  const heapPerRoomBytes = rooms >= 10_000 && heapGrowth > 0 ? heapGrowth / rooms : Number.NaN;

  const existingRoomUs = await timed(requests, (i) =>
    sessions(request(`room-${(i * 7919) % rooms}`), client),
  );
  const newRoomUs = await timed(requests, (i) => sessions(request(`new-${i}`), client));
  // Reports: 10 opened, 10 closed, at this size (what sweeping the unconfirmed rooms costs).
  let reportIndex = 0;
  const loadReportUs = await timed(Math.min(requests, 2000), async () => {
    const server = fleet[reportIndex % fleet.length]!;
    const first = (reportIndex * 10) % Math.max(1, rooms);
    reportIndex += 1;
    const batch = Array.from({ length: 10 }, (_, k) => `room-${(first + k) % Math.max(1, rooms)}`);
    registry.report(server, { peers: 0, rooms: server.rooms.size, draining: false }, now());
    await assigner.roomsChanged(server, batch, batch);
  });
  // A failover storm's broker side: the first member of each room moves it, the rest follow.
  const victim = fleet[0]!;
  const victimRooms = [...(opened.get(victim) ?? [])];
  let failoverUs = Number.NaN;
  let serverLostMs = Number.NaN;
  // Fewer than 100 moves is too small a sample to say anything (the first ones pay for warm-up).
  if (servers > 1 && victimRooms.length >= 100) {
    // Each failover proves its session with its last ticket for that room (one HMAC), as a
    // client of the lost server would; the tickets are signed before the timing starts.
    const moves = Math.min(requests, victimRooms.length);
    const proofs = victimRooms
      .slice(0, moves)
      .map(
        (room, i) =>
          signTicket(keys, { sessionId: `s${i}`, room, serverId: victim.id, name: '', ttlSeconds: 30 })
            .ticket,
      );
    failoverUs = await timed(moves, (i) =>
      sessions(request(victimRooms[i]!, { exclude: [victim.id], resume: proofs[i]! }), client),
    );
    const lostStart = cpuUs();
    await assigner.serverLost(fleet[servers - 1]!);
    serverLostMs = (cpuUs() - lostStart) / 1000;
  }
  return {
    servers,
    rooms,
    existingRoomUs,
    newRoomUs,
    failoverUs,
    loadReportUs,
    serverLostMs,
    heapPerRoomBytes,
  };
}
