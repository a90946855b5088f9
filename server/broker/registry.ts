// The live media servers as the broker knows them — capacity, load, drain state and the
// rooms each holds — owned here alone: other modules read a server and ask the registry to change it.
import type { Capacity, ControlParticipant } from '../../shared/protocol/control.ts';

/** A member of a room on one server, as that server reported it. */
export interface Participant {
  readonly peerId: string;
  readonly identity: string;
  readonly name: string;
  /** Epoch ms on the media server's clock: with the peer id, names the membership. */
  readonly joinedAt: number;
}

/** A room's members on one server, and when the room's current life there began. */
export interface RoomMembers {
  /** The first member's join time (on a rebuilt broker: the earliest member still there). */
  readonly openedAt: number;
  readonly members: ReadonlyMap<string, Participant>;
}

/** What a reported join changed. */
export type JoinOutcome = 'room-opened' | 'joined' | 'known' | 'over-limit';

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
  /** Room → its members here, as the server reports joins and leaves. */
  readonly roomMembers: ReadonlyMap<string, RoomMembers>;
  /** Members held across its rooms (at most its capacity's maxPeers). */
  readonly memberCount: number;
  /** The media server process's start time, when it sent one: with the id, names this server's life. */
  readonly startedAt: number | undefined;
  /**
   * It refused a seat (full) or did not confirm one in time since its last load report: asked
   * for no seat until the next report says otherwise.
   */
  readonly seatsWithheld: boolean;
  /** It did not confirm a seat in time since its last report (frozen, or too slow): its rooms move. */
  readonly seatsUnanswered: boolean;
}

export interface ServerInit {
  id: string;
  url: string;
  capacity: Capacity;
  draining: boolean;
  now: number;
  startedAt?: number;
}

/** Why a room left a server (the `cause` of a move, its metric label and log field). */
export type MoveCause = 'dead' | 'frozen' | 'drained' | 'member' | 'split' | 'operator';

/** What a heartbeat (`load`) tells the broker. */
export interface LoadUpdate {
  peers: number;
  /** Seats the server holds for sessions on their way (any broker's): counted as peers. */
  seats?: number;
  rooms: number;
  draining: boolean;
}

class ServerRecord implements MediaServer {
  healthy = true;
  seatsWithheld = false;
  seatsUnanswered = false;
  drainRequested = false;
  reportedPeers = 0;
  /**
   * Epoch ms of each session sent here that no report has shown yet, oldest first (from
   * `pendingHead`): counted against capacity from the moment it is reserved, retired as
   * reports show new peers, forgotten after a ticket TTL (the client never came).
   */
  readonly pending: number[] = [];
  pendingHead = 0;
  /** Live rooms the broker told the server to migrate: not where new members go. */
  readonly evacuating = new Map<string, MoveCause>();
  lastSeen: number;
  readonly registeredAt: number;
  readonly rooms = new Set<string>();
  /**
   * Room → epoch ms it was last assigned here, for rooms the server does not report live, kept
   * in that order (re-inserted on every assignment), so a sweep stops at the first room still
   * within its TTL.
   */
  readonly unconfirmed = new Map<string, number>();
  readonly roomMembers = new Map<string, { openedAt: number; members: Map<string, Participant> }>();
  memberCount = 0;

  constructor(
    readonly id: string,
    readonly url: string,
    readonly capacity: Capacity,
    public draining: boolean,
    now: number,
    readonly startedAt: number | undefined,
  ) {
    this.lastSeen = now;
    this.registeredAt = now;
  }

  get unconfirmedRooms(): number {
    return this.unconfirmed.size;
  }

  get pendingAssignments(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Retire up to `count` of the oldest pending sessions, and any sent at or before `before`. */
  retirePending(count: number, before: number): void {
    const pending = this.pending;
    let head = this.pendingHead;
    while (head < pending.length && (count > 0 || (pending[head] as number) <= before)) {
      head++;
      count--;
    }
    if (head === pending.length) {
      pending.length = 0;
      head = 0;
    } else if (head > 64 && head * 2 > pending.length) {
      pending.splice(0, head);
      head = 0;
    }
    this.pendingHead = head;
  }
}

/** What a reservation did, so a request that loses its compare-and-set can undo exactly that. */
export const Reserved = { refused: 0, seat: 1, seatAndRoom: 2 } as const;
export type Reserved = (typeof Reserved)[keyof typeof Reserved];

export interface RegistryOptions {
  /** A reserved session not seen in a report is forgotten after this long (the ticket TTL). */
  pendingTtlMs?: number;
}

const DEFAULT_PENDING_TTL_MS = 30_000;

/** Estimated share of the server in use, counting sessions sent and not yet reported. */
export function loadScore(server: MediaServer): number {
  return (server.reportedPeers + server.pendingAssignments) / server.capacity.maxPeers;
}

/** Room for one more session (and, for a room new to it, one more room)? */
export function hasCapacity(server: MediaServer, newRoom: boolean): boolean {
  if (server.seatsWithheld) return false;
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
  /** Room → the registered servers that report it live and were not told to leave it → since when. */
  private readonly live = new Map<string, Map<MediaServer, number>>();
  private readonly pendingTtlMs: number;

  constructor(options: RegistryOptions = {}) {
    this.pendingTtlMs = options.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS;
  }

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
    const server = new ServerRecord(
      init.id,
      init.url,
      init.capacity,
      init.draining,
      init.now,
      init.startedAt,
    );
    this.byId.set(server.id, server);
    this.list.push(server);
    return server;
  }

  /** Removes the server and marks it unhealthy, so holders of the object see it is gone. */
  remove(server: MediaServer): boolean {
    const record = this.record(server);
    if (record === undefined) return false;
    record.healthy = false;
    for (const room of record.rooms) this.unindex(room, record);
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
    // Sessions the report shows have arrived; one that arrived as another left goes at its TTL.
    // A seat the server confirmed (to any broker) counts as a peer: it is one on its way.
    const peers = load.peers + (load.seats ?? 0);
    record.retirePending(peers - record.reportedPeers, now - this.pendingTtlMs);
    record.reportedPeers = peers;
    record.draining = load.draining || record.drainRequested;
    // The server's own word on its load again: it may be asked for seats (see seatRefused).
    record.seatsWithheld = false;
    record.seatsUnanswered = false;
    record.lastSeen = now;
    return record.draining && !wasDraining;
  }

  /**
   * The server refused a seat (`SERVER_FULL`, `SERVER_DRAINING`) or did not confirm one in
   * time (`timeout`): until its next load report it gets no seat request, and a draining one
   * counts as draining. A `ROOM_FULL` concerns one room only and changes nothing here.
   */
  seatRefused(server: MediaServer, why: 'SERVER_FULL' | 'SERVER_DRAINING' | 'timeout'): void {
    const record = this.record(server);
    if (record === undefined) return;
    if (why === 'SERVER_DRAINING') record.draining = true;
    else record.seatsWithheld = true;
    if (why === 'timeout') record.seatsUnanswered = true;
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

  /**
   * Take a seat for one session of `room` (and a room slot if the room is new here) when the
   * server has them: check and count in one synchronous step, so concurrent requests each see
   * the others' seats and none is given twice.
   */
  reserve(server: MediaServer, room: string, now: number): Reserved {
    const record = this.record(server);
    if (record === undefined) return Reserved.refused;
    record.retirePending(0, now - this.pendingTtlMs);
    const newRoom = !record.rooms.has(room) && !record.unconfirmed.has(room);
    if (!hasCapacity(record, newRoom)) return Reserved.refused;
    record.pending.push(now);
    // Sent here again: the room is back (a move undone), its members are welcome.
    if (record.evacuating.size > 0) record.evacuating.delete(room);
    if (record.rooms.has(room)) return Reserved.seat;
    // Re-inserted so the map stays in order of last assignment (see ServerRecord.unconfirmed).
    record.unconfirmed.delete(room);
    record.unconfirmed.set(room, now);
    return newRoom ? Reserved.seatAndRoom : Reserved.seat;
  }

  /** Undo a reservation whose compare-and-set lost. */
  release(server: MediaServer, room: string, reserved: Reserved): void {
    const record = this.record(server);
    if (record === undefined || reserved === Reserved.refused) return;
    if (record.pending.length > record.pendingHead) record.pending.pop();
    if (reserved === Reserved.seatAndRoom) record.unconfirmed.delete(room);
  }

  /** A session for `room` went here without a reservation (tests, benchmarks). */
  assigned(server: MediaServer, room: string, now: number): void {
    const record = this.record(server);
    if (record === undefined) return;
    record.pending.push(now);
    if (record.rooms.has(room)) return;
    record.unconfirmed.delete(room);
    record.unconfirmed.set(room, now);
  }

  /** The server registered with these live rooms (and this many peers in them). */
  registered(server: MediaServer, rooms: readonly string[], peers: number, now: number): void {
    const record = this.record(server);
    if (record === undefined) return;
    record.reportedPeers = peers;
    for (const room of rooms) this.roomOpened(record, room, now);
  }

  /**
   * The server holds `room` live (registration or a report's `opened`). False when it was told
   * to leave the room before its members arrived: they missed that `migrate`.
   */
  roomOpened(server: MediaServer, room: string, now = 0): boolean {
    const record = this.record(server);
    if (record === undefined) return true;
    record.rooms.add(room);
    record.unconfirmed.delete(room);
    if (record.evacuating.has(room)) return false;
    let holders = this.live.get(room);
    if (holders === undefined) {
      holders = new Map();
      this.live.set(room, holders);
    }
    if (!holders.has(record)) holders.set(record, now);
    return true;
  }

  /** The server reports `room` closed (emptied); returns why it was told to leave it, if it was. */
  roomClosed(server: MediaServer, room: string): MoveCause | undefined {
    const record = this.record(server);
    if (record === undefined) return undefined;
    record.rooms.delete(room);
    this.unindex(room, record);
    const cause = record.evacuating.get(room);
    record.evacuating.delete(room);
    return cause;
  }

  /**
   * The server was told to migrate the room's members: it stops counting as the room's holder
   * until it reports the room closed. False if it was told already (or does not hold it).
   */
  evacuate(server: MediaServer, room: string, cause: MoveCause): boolean {
    const record = this.record(server);
    if (record === undefined || record.evacuating.has(room)) return false;
    record.evacuating.set(room, cause);
    this.unindex(room, record);
    return true;
  }

  /** The healthy servers holding `room` live (not told to leave it), with the time each first reported it. */
  holders(room: string): ReadonlyMap<MediaServer, number> | undefined {
    return this.live.get(room);
  }

  /** The one server holding `room` live, if exactly one does (the common case: no allocation). */
  soleHolder(room: string): MediaServer | undefined {
    const holders = this.live.get(room);
    if (holders === undefined || holders.size !== 1) return undefined;
    for (const server of holders.keys()) return server;
    return undefined;
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

  /**
   * A member joined a room on the server. Bounded by the server's maxPeers: a server that
   * reports more members than its capacity gets no more tracked (`over-limit`).
   */
  memberJoined(server: MediaServer, entry: ControlParticipant): JoinOutcome {
    const record = this.record(server);
    if (record === undefined) return 'over-limit';
    let room = record.roomMembers.get(entry.room);
    const known = room?.members.get(entry.peerId);
    if (known !== undefined && known.joinedAt === entry.joinedAt) return 'known';
    if (known === undefined && record.memberCount >= record.capacity.maxPeers) return 'over-limit';
    const opened = room === undefined;
    if (room === undefined) {
      room = { openedAt: entry.joinedAt, members: new Map() };
      record.roomMembers.set(entry.room, room);
    }
    if (known === undefined) record.memberCount++;
    room.members.set(entry.peerId, {
      peerId: entry.peerId,
      identity: entry.identity,
      name: entry.name,
      joinedAt: entry.joinedAt,
    });
    return opened ? 'room-opened' : 'joined';
  }

  /**
   * A membership ended. Returns the member and its room's life (and whether it was the last),
   * or undefined when the broker did not know that membership.
   */
  memberLeft(
    server: MediaServer,
    room: string,
    peerId: string,
    joinedAt: number,
  ): { member: Participant; openedAt: number; emptied: boolean } | undefined {
    const record = this.record(server);
    const entry = record?.roomMembers.get(room);
    const member = entry?.members.get(peerId);
    if (record === undefined || entry === undefined || member === undefined || member.joinedAt !== joinedAt)
      return undefined;
    entry.members.delete(peerId);
    record.memberCount--;
    const emptied = entry.members.size === 0;
    if (emptied) record.roomMembers.delete(room);
    return { member, openedAt: entry.openedAt, emptied };
  }

  /** Another registered server than `server` has members in `room` (the room lives on there). */
  heldElsewhere(room: string, server: MediaServer): boolean {
    for (const other of this.list) if (other !== server && other.roomMembers.has(room)) return true;
    return false;
  }

  /** The servers with members in `room`, the pinned-or-live holder first when it is one of them. */
  membersOf(room: string): { server: MediaServer; room: RoomMembers }[] {
    const found: { server: MediaServer; room: RoomMembers }[] = [];
    const holder = this.soleHolder(room);
    for (const server of this.list) {
      const entry = server.roomMembers.get(room);
      if (entry === undefined) continue;
      if (server === holder) found.unshift({ server, room: entry });
      else found.push({ server, room: entry });
    }
    return found;
  }

  healthyCount(): number {
    let count = 0;
    for (const server of this.list) if (server.healthy) count++;
    return count;
  }

  private unindex(room: string, record: ServerRecord): void {
    const holders = this.live.get(room);
    if (holders === undefined) return;
    holders.delete(record);
    if (holders.size === 0) this.live.delete(room);
  }

  /** The registry's own record for a server it still holds (a lost server's changes are dropped). */
  private record(server: MediaServer): ServerRecord | undefined {
    const record = this.byId.get(server.id);
    return record === server ? record : undefined;
  }
}
