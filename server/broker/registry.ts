// The live media servers as the broker knows them: capacity, reported load, drain state
// and rooms. Kept in a map for lookups and an array for O(1) random sampling.
import type { Capacity } from '../../shared/protocol/control.ts';

export interface MediaServer {
  readonly id: string;
  readonly url: string;
  readonly capacity: Capacity;
  /** True from registration until the server is lost; a lost server is also removed. */
  healthy: boolean;
  /** Reported by the server, or requested by an admin (sticky until it re-registers). */
  draining: boolean;
  drainRequested: boolean;
  reportedPeers: number;
  reportedRooms: number;
  /** Sessions sent here since the last load report (their peers are not in it yet). */
  pendingAssignments: number;
  /** Rooms newly pinned here since the last load report. */
  pendingRooms: number;
  /** Epoch ms of the last valid message from the server. */
  lastSeen: number;
  readonly registeredAt: number;
  /** Rooms the server reports open. */
  readonly rooms: Set<string>;
  /**
   * Rooms pinned here that the server has not reported open (members on their way) or
   * has reported closed: their pins are dropped once no assignment happened for a ticket TTL.
   * Room → epoch ms it was last assigned here, kept in that order (re-inserted on every
   * assignment), so a sweep stops at the first room still within its TTL.
   */
  readonly unconfirmed: Map<string, number>;
}

export interface ServerInit {
  id: string;
  url: string;
  capacity: Capacity;
  draining: boolean;
  now: number;
}

/** What a heartbeat (`load`) tells the broker. */
export interface LoadUpdate {
  peers: number;
  rooms: number;
  draining: boolean;
}

/** Estimated share of the server in use, counting sessions sent since the last report. */
export function loadScore(server: MediaServer): number {
  return (server.reportedPeers + server.pendingAssignments) / server.capacity.maxPeers;
}

/** Room for one more session (and, for a room new to it, one more room)? */
export function hasCapacity(server: MediaServer, newRoom: boolean): boolean {
  if (server.reportedPeers + server.pendingAssignments >= server.capacity.maxPeers) return false;
  return !newRoom || server.reportedRooms + server.pendingRooms < server.capacity.maxRooms;
}

/** May new rooms be placed here, ignoring the client's exclude list? */
export function acceptsNewRooms(server: MediaServer): boolean {
  return server.healthy && !server.draining && hasCapacity(server, true);
}

export class ServerRegistry {
  private readonly byId = new Map<string, MediaServer>();
  private readonly list: MediaServer[] = [];

  get size(): number {
    return this.list.length;
  }

  get(id: string): MediaServer | undefined {
    return this.byId.get(id);
  }

  /** Servers in registration order (index access is what random sampling needs). */
  all(): readonly MediaServer[] {
    return this.list;
  }

  /** Adds a server; the caller has checked that no live registration holds the id. */
  add(init: ServerInit): MediaServer {
    if (this.byId.has(init.id)) throw new RangeError(`server ${init.id} is already registered`);
    const server: MediaServer = {
      id: init.id,
      url: init.url,
      capacity: init.capacity,
      healthy: true,
      draining: init.draining,
      drainRequested: false,
      reportedPeers: 0,
      reportedRooms: 0,
      pendingAssignments: 0,
      pendingRooms: 0,
      lastSeen: init.now,
      registeredAt: init.now,
      rooms: new Set(),
      unconfirmed: new Map(),
    };
    this.byId.set(server.id, server);
    this.list.push(server);
    return server;
  }

  /** Removes the server and marks it unhealthy, so holders of the object see it is gone. */
  remove(server: MediaServer): boolean {
    if (this.byId.get(server.id) !== server) return false;
    server.healthy = false;
    this.byId.delete(server.id);
    const index = this.list.indexOf(server);
    // Order matters only for tie-breaking, so keep it: removal is rare, lookups are not.
    if (index >= 0) this.list.splice(index, 1);
    return true;
  }

  report(server: MediaServer, load: LoadUpdate, now: number): void {
    server.reportedPeers = load.peers;
    server.reportedRooms = load.rooms;
    server.pendingAssignments = 0;
    server.pendingRooms = 0;
    server.draining = load.draining || server.drainRequested;
    server.lastSeen = now;
  }

  healthyCount(): number {
    let count = 0;
    for (const server of this.list) if (server.healthy) count++;
    return count;
  }
}
