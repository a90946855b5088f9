// The live media servers as the broker knows them — capacity, load, drain state and the
// rooms each holds — owned here alone: other modules read a server and ask the registry to change it.
import type { Capacity } from '../../shared/protocol/control.ts';

/** One registered server, read-only outside the registry. */
export interface MediaServer {
  readonly id: string;
  readonly url: string;
  readonly capacity: Capacity;
  /** True from registration until the server is lost; a lost server is also removed. */
  readonly healthy: boolean;
  /** Reported by the server, or requested by an admin (sticky until it re-registers). */
  readonly draining: boolean;
  readonly reportedPeers: number;
  /** Sessions sent here that its load reports do not show yet. */
  readonly pendingAssignments: number;
  /** Epoch ms of the last load report. */
  readonly lastSeen: number;
  readonly registeredAt: number;
  /** Rooms the server reports live. */
  readonly rooms: ReadonlySet<string>;
  /** Rooms pinned here that the server has not reported live (members on their way), or closed. */
  readonly unconfirmedRooms: number;
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

class ServerRecord implements MediaServer {
  healthy = true;
  drainRequested = false;
  reportedPeers = 0;
  pendingAssignments = 0;
  lastSeen: number;
  readonly registeredAt: number;
  readonly rooms = new Set<string>();
  /**
   * Room → epoch ms it was last assigned here, for rooms the server does not report live, kept
   * in that order (re-inserted on every assignment), so a sweep stops at the first room still
   * within its TTL.
   */
  readonly unconfirmed = new Map<string, number>();

  constructor(
    readonly id: string,
    readonly url: string,
    readonly capacity: Capacity,
    public draining: boolean,
    now: number,
  ) {
    this.lastSeen = now;
    this.registeredAt = now;
  }

  get unconfirmedRooms(): number {
    return this.unconfirmed.size;
  }
}

/** Estimated share of the server in use, counting sessions sent and not yet reported. */
export function loadScore(server: MediaServer): number {
  return (server.reportedPeers + server.pendingAssignments) / server.capacity.maxPeers;
}

/** Room for one more session (and, for a room new to it, one more room)? */
export function hasCapacity(server: MediaServer, newRoom: boolean): boolean {
  if (server.reportedPeers + server.pendingAssignments >= server.capacity.maxPeers) return false;
  return !newRoom || server.rooms.size + server.unconfirmedRooms < server.capacity.maxRooms;
}

/** May new rooms be placed here, ignoring the client's exclude list? */
export function acceptsNewRooms(server: MediaServer): boolean {
  return server.healthy && !server.draining && hasCapacity(server, true);
}

export class ServerRegistry {
  private readonly byId = new Map<string, ServerRecord>();
  private readonly list: ServerRecord[] = [];

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
    const server = new ServerRecord(init.id, init.url, init.capacity, init.draining, init.now);
    this.byId.set(server.id, server);
    this.list.push(server);
    return server;
  }

  /** Removes the server and marks it unhealthy, so holders of the object see it is gone. */
  remove(server: MediaServer): boolean {
    const record = this.record(server);
    if (record === undefined) return false;
    record.healthy = false;
    this.byId.delete(record.id);
    const index = this.list.indexOf(record);
    // Order matters only for tie-breaking, so keep it: removal is rare, lookups are not.
    if (index >= 0) this.list.splice(index, 1);
    return true;
  }

  /** A load report; returns true when it started a drain. */
  report(server: MediaServer, load: LoadUpdate, now: number): boolean {
    const record = this.record(server);
    if (record === undefined) return false;
    const wasDraining = record.draining;
    record.reportedPeers = load.peers;
    record.pendingAssignments = 0;
    record.draining = load.draining || record.drainRequested;
    record.lastSeen = now;
    return record.draining && !wasDraining;
  }

  /** An admin asked the server to drain; returns true when that started a drain. */
  requestDrain(server: MediaServer): boolean {
    const record = this.record(server);
    if (record === undefined) return false;
    record.drainRequested = true;
    if (record.draining) return false;
    record.draining = true;
    return true;
  }

  /** A session for `room` was sent here (and, if the room is not live here, it waits for it). */
  assigned(server: MediaServer, room: string, now: number): void {
    const record = this.record(server);
    if (record === undefined) return;
    record.pendingAssignments++;
    if (record.rooms.has(room)) return;
    // Re-inserted so the map stays in order of last assignment (see ServerRecord.unconfirmed).
    record.unconfirmed.delete(room);
    record.unconfirmed.set(room, now);
  }

  /** The server holds `room` live (registration or a report's `opened`). */
  roomOpened(server: MediaServer, room: string): void {
    const record = this.record(server);
    if (record === undefined) return;
    record.rooms.add(room);
    record.unconfirmed.delete(room);
  }

  /** The server reports `room` closed (emptied). */
  roomClosed(server: MediaServer, room: string): void {
    this.record(server)?.rooms.delete(room);
  }

  /** The unconfirmed room assigned longest ago, with that time. */
  oldestUnconfirmed(server: MediaServer): [room: string, since: number] | undefined {
    const record = this.record(server);
    if (record === undefined) return undefined;
    for (const entry of record.unconfirmed) return entry;
    return undefined;
  }

  /** Stop waiting for `room` on the server. */
  forgetUnconfirmed(server: MediaServer, room: string): void {
    this.record(server)?.unconfirmed.delete(room);
  }

  /** Wait for `room` again, as assigned at `since` (appended: swept after the rooms before it). */
  awaitUnconfirmed(server: MediaServer, room: string, since: number): void {
    const record = this.record(server);
    if (record === undefined || record.rooms.has(room) || record.unconfirmed.has(room)) return;
    record.unconfirmed.set(room, since);
  }

  /** Every room the broker connects with the server: live, or assigned and not yet live. */
  roomsOf(server: MediaServer): string[] {
    const record = this.record(server);
    if (record === undefined) return [];
    return [...new Set([...record.rooms, ...record.unconfirmed.keys()])];
  }

  healthyCount(): number {
    let count = 0;
    for (const server of this.list) if (server.healthy) count++;
    return count;
  }

  /** The registry's own record for a server it still holds (a lost server's changes are dropped). */
  private record(server: MediaServer): ServerRecord | undefined {
    const record = this.byId.get(server.id);
    return record === server ? record : undefined;
  }
}
