// Assignment policy: which media server a session for a room goes to. Room affinity
// first (every member on the pinned server), moves of whole rooms off excluded, lost or
// draining servers, least-loaded placement of new rooms; no sockets, no timers.
import { UsherError } from '../../shared/errors.ts';
import type { PinStore } from './pin-store.ts';
import {
  acceptsNewRooms,
  hasCapacity,
  loadScore,
  type MediaServer,
  type ServerRegistry,
} from './registry.ts';

export type MoveReason = 'client-exclude' | 'server-lost' | 'draining';

export interface RoomMove {
  room: string;
  from: string;
  to: string;
  reason: MoveReason;
}

export interface AssignerOptions {
  registry: ServerRegistry;
  pins: PinStore;
  now: () => number;
  /** A room's pin outlives its last session by this much (the ticket may still be used). */
  ticketTtlMs: number;
  onMove?: (move: RoomMove) => void;
  /** [0, 1); injectable so sampling is deterministic in tests. */
  random?: () => number;
  /** Up to this many servers every placement scans them all; above, power of two choices. */
  exactScanLimit?: number;
}

/** How long the broker remembers which server a lost room was on, to log its move. */
const LOST_ROOM_MEMORY_MS = 5 * 60_000;
/** CAS retries before giving up; each retry means another request moved the room meanwhile. */
const MAX_ATTEMPTS = 8;
const NONE_EXCLUDED: ReadonlySet<string> = new Set();
/** Random draws in power-of-two-choices before falling back to a full scan. */
const SAMPLE_DRAWS = 8;

export class Assigner {
  private readonly registry: ServerRegistry;
  private readonly pins: PinStore;
  private readonly now: () => number;
  private readonly ticketTtlMs: number;
  private readonly onMove: (move: RoomMove) => void;
  private readonly random: () => number;
  private readonly exactScanLimit: number;
  /** Rooms whose server was lost (their pins deleted), so the later re-placement is logged as a move. */
  private readonly lostRooms = new Map<string, { from: string; at: number }>();
  /** When each server's live rooms last had their pins renewed (stores whose pins expire). */
  private readonly keptAlive = new WeakMap<MediaServer, number>();

  constructor(options: AssignerOptions) {
    this.registry = options.registry;
    this.pins = options.pins;
    this.now = options.now;
    this.ticketTtlMs = options.ticketTtlMs;
    this.onMove = options.onMove ?? (() => {});
    this.random = options.random ?? Math.random;
    this.exactScanLimit = options.exactScanLimit ?? 16;
  }

  /**
   * The server for one session of `room`. Throws UsherError NO_SERVER_AVAILABLE when
   * none fits. `exclude` lists servers the client found dead; they never get the room.
   */
  async assign(room: string, exclude: readonly string[] = []): Promise<MediaServer> {
    const excluded = exclude.length === 0 ? NONE_EXCLUDED : new Set(exclude);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const pin = await this.pins.get(room);
      const now = this.now();
      if (pin !== undefined) {
        const pinned = this.registry.get(pin.serverId);
        const reason = moveReason(pinned, pin.serverId, excluded);
        if (reason === undefined && pinned !== undefined) {
          // Moving a room because its server is full would split it: refuse instead.
          if (!hasCapacity(pinned, false)) throw new UsherError('NO_SERVER_AVAILABLE');
          if (!(await this.pins.compareAndSet(room, pinned.id, { serverId: pinned.id, assignedAt: now })))
            continue;
          if (!pinned.healthy) continue;
          this.lostRooms.delete(room); // another broker moved it already, and logged that
          this.registry.assigned(pinned, room, now);
          return pinned;
        }
        const target = this.pick(excluded, pin.serverId);
        if (target === undefined) throw new UsherError('NO_SERVER_AVAILABLE');
        if (!(await this.pins.compareAndSet(room, pin.serverId, { serverId: target.id, assignedAt: now })))
          continue; // another member moved it first: re-read and follow
        if (!target.healthy) continue; // lost while we waited: the next pass moves it again
        this.lostRooms.delete(room);
        this.onMove({ room, from: pin.serverId, to: target.id, reason: reason ?? 'server-lost' });
        this.registry.assigned(target, room, now);
        return target;
      }
      const target = this.pick(excluded, undefined);
      if (target === undefined) throw new UsherError('NO_SERVER_AVAILABLE');
      if (!(await this.pins.compareAndSet(room, undefined, { serverId: target.id, assignedAt: now })))
        continue;
      if (!target.healthy) continue;
      const lost = this.lostRooms.get(room);
      if (lost !== undefined) {
        this.lostRooms.delete(room);
        if (lost.from !== target.id)
          this.onMove({ room, from: lost.from, to: target.id, reason: 'server-lost' });
      }
      this.registry.assigned(target, room, now);
      return target;
    }
    throw new UsherError('NO_SERVER_AVAILABLE', 'the room is being moved; retry');
  }

  /** A server (re)registered with these rooms live on it: rebuild their pins. */
  async serverRegistered(server: MediaServer, rooms: readonly string[]): Promise<void> {
    const now = this.now();
    for (const room of rooms) {
      this.registry.roomOpened(server, room);
      const pin = await this.pins.get(room);
      if (pin?.serverId === server.id) continue;
      const holder = pin === undefined ? undefined : this.registry.get(pin.serverId);
      // A room pinned to another live server stays there: that is where its members go now.
      if (holder?.healthy) continue;
      if (await this.pins.compareAndSet(room, pin?.serverId, { serverId: server.id, assignedAt: now }))
        this.lostRooms.delete(room);
    }
  }

  /** The server is gone: it gets no new sessions and its pins are deleted. Returns its rooms. */
  async serverLost(server: MediaServer): Promise<string[]> {
    const known = this.registry.roomsOf(server);
    this.registry.remove(server);
    // With a shared store another broker may have deleted the pins first: the rooms the server
    // reported to this broker count too, so whichever broker re-places a room logs the move.
    const rooms = [...new Set([...(await this.pins.deleteByServer(server.id)), ...known])];
    const now = this.now();
    this.forgetLostRooms(now);
    for (const room of rooms) {
      this.lostRooms.delete(room); // re-insert so the map stays ordered by time
      this.lostRooms.set(room, { from: server.id, at: now });
    }
    return rooms;
  }

  /** The server reported rooms opened and closed since its previous report. */
  async roomsChanged(
    server: MediaServer,
    opened: readonly string[],
    closed: readonly string[],
  ): Promise<void> {
    const now = this.now();
    for (const room of closed) {
      this.registry.roomClosed(server, room);
      await this.expireIfIdle(server, room, now);
    }
    for (const room of opened) {
      this.registry.roomOpened(server, room);
      const pin = await this.pins.get(room);
      // e.g. a shared store whose pin expired: the room is here, so its members should come here.
      if (pin === undefined)
        await this.pins.compareAndSet(room, undefined, { serverId: server.id, assignedAt: now });
    }
    await this.sweepUnconfirmed(server);
    await this.keepAlive(server, now);
  }

  /**
   * Drop the pins of rooms the server does not hold (closed, or never joined) once no
   * session was assigned to them for a ticket TTL: until then a member may be on its way.
   * Visits only the rooms whose TTL has passed (oldest first), not every unconfirmed room.
   */
  async sweepUnconfirmed(server: MediaServer): Promise<void> {
    const now = this.now();
    for (;;) {
      const oldest = this.registry.oldestUnconfirmed(server);
      if (oldest === undefined || now - oldest[1] < this.ticketTtlMs) break; // the rest were assigned later
      await this.expireIfIdle(server, oldest[0], now);
    }
  }

  /**
   * A room here that the server does not hold: unpin it if its last assignment (by any
   * broker) is a ticket TTL old, else keep it for a later sweep at that assignment's time.
   */
  private async expireIfIdle(server: MediaServer, room: string, now: number): Promise<void> {
    this.registry.forgetUnconfirmed(server, room);
    if (server.rooms.has(room)) return;
    const pin = await this.pins.get(room);
    if (pin === undefined || pin.serverId !== server.id) return;
    if (now - pin.assignedAt >= this.ticketTtlMs) {
      await this.pins.deleteIf(room, server.id, now - this.ticketTtlMs);
      return;
    }
    // Assigned within the TTL (here or by another broker). Appended out of time order, it is
    // swept at the latest one TTL late, when the rooms queued before it have expired.
    this.registry.awaitUnconfirmed(server, room, pin.assignedAt);
  }

  /**
   * A shared store forgets pins nobody renews (so rooms whose members vanished go away);
   * a room that is live but quiet — no one joining or failing over — must not be forgotten.
   */
  private async keepAlive(server: MediaServer, now: number): Promise<void> {
    const every = this.pins.keepAliveMs;
    if (every === undefined) return;
    const last = this.keptAlive.get(server);
    if (last !== undefined && now - last < every) return;
    this.keptAlive.set(server, now); // before the await: the next report must not start another
    try {
      await this.pins.keepAlive(server.id, [...server.rooms], now);
    } catch (error) {
      this.keptAlive.delete(server); // retried on the next report
      throw error;
    }
  }

  /** Least-loaded server that may take a new room, never one in `excluded` nor `also`. */
  private pick(excluded: ReadonlySet<string>, also: string | undefined): MediaServer | undefined {
    const servers = this.registry.all();
    if (servers.length > this.exactScanLimit) {
      // Power of two choices: near-best balance at O(1) per request.
      let first: MediaServer | undefined;
      for (let draw = 0; draw < SAMPLE_DRAWS; draw++) {
        const candidate = servers[Math.floor(this.random() * servers.length)];
        if (candidate === undefined || candidate === first || !eligible(candidate, excluded, also)) continue;
        if (first === undefined) {
          first = candidate;
          continue;
        }
        return loadScore(candidate) < loadScore(first) ? candidate : first;
      }
      if (first !== undefined) return first;
      // Most servers are ineligible: only then pay for a full scan.
    }
    let best: MediaServer | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const server of servers) {
      if (!eligible(server, excluded, also)) continue;
      const score = loadScore(server);
      if (score < bestScore) {
        best = server;
        bestScore = score;
      }
    }
    return best;
  }

  private forgetLostRooms(now: number): void {
    for (const [room, lost] of this.lostRooms) {
      if (now - lost.at < LOST_ROOM_MEMORY_MS) break;
      this.lostRooms.delete(room);
    }
  }
}

/** Why a room must leave its pinned server, or undefined when it may stay. */
function moveReason(
  pinned: MediaServer | undefined,
  pinnedId: string,
  excluded: ReadonlySet<string>,
): MoveReason | undefined {
  if (pinned === undefined || !pinned.healthy) return 'server-lost';
  // A drained server's clients come back excluding it: the cause is still the drain.
  if (pinned.draining) return 'draining';
  if (excluded.has(pinnedId)) return 'client-exclude';
  return undefined;
}

/**
 * Can take a new room: not excluded by the client, not `also` (a room's current server when it
 * moves), and below capacity and not draining. Module-level rather than a closure per pick.
 */
function eligible(server: MediaServer, excluded: ReadonlySet<string>, also: string | undefined): boolean {
  return server.id !== also && !excluded.has(server.id) && acceptsNewRooms(server);
}
