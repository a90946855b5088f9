// Assignment policy: which media server a session for a room goes to. The live room is the
// truth and the pin its cache: a room live on a server goes there (the pin is repaired to
// match), a room live on several is a split resolved by one rule, and a room moved off a live
// server takes its members along (they are told to migrate). No sockets; timers only through
// the warm-up it is given. docs/ARCHITECTURE.md "Placement: the live room is the truth".
import { UsherError } from '../../shared/errors.ts';
import type { Pin, PinStore } from './pin-store.ts';
import {
  acceptsNewRooms,
  loadScore,
  type MediaServer,
  type MoveCause,
  Reserved,
  type ServerRegistry,
} from './registry.ts';
import type { WarmUp } from './warm-up.ts';

export type { MoveCause } from './registry.ts';

export interface RoomMove {
  room: string;
  from: string;
  to: string;
  cause: MoveCause;
}

/** Why a pin was rewritten to the server that holds the room live. */
export type PinRepairCause = 'live-elsewhere' | 'missing' | 'store-reconnect' | 'registration';

/** Why a live server is told to send a room's members elsewhere (the control `migrate` reason). */
export type MigrateReason = 'moved' | 'split';

export interface RoomSplit {
  room: string;
  servers: string[];
  winner: string;
}

export interface AssignerOptions {
  registry: ServerRegistry;
  pins: PinStore;
  now: () => number;
  /** A room's pin outlives its last session by this much (the ticket may still be used). */
  ticketTtlMs: number;
  /** `at`: the epoch ms of the pin the move wrote (with the room, it names the move). */
  onMove?: (move: RoomMove, at: number) => void;
  /** `count` pins were rewritten to the server holding their rooms (one room, or a store-wide re-pin). */
  onRepair?: (cause: PinRepairCause, count: number) => void;
  onSplit?: (split: RoomSplit) => void;
  /** A loser of a split reported the room closed: its members left. */
  onSplitRepaired?: (room: string, server: string) => void;
  /** Tell a live server to send the room's members back to the broker (control `migrate`). */
  migrate?: (server: MediaServer, room: string, reason: MigrateReason) => void;
  /** While active, servers not registered yet are not lost: their rooms wait for them. */
  warmUp?: WarmUp;
  /** [0, 1); injectable so sampling is deterministic in tests. */
  random?: () => number;
  /** Up to this many servers every placement scans them all; above, power of two choices. */
  exactScanLimit?: number;
  /**
   * A room moves off a healthy server on members' word (`exclude`) at most once per this
   * long (0: no limit). Servers the broker itself sees lost or draining are left at once.
   */
  memberMoveIntervalMs?: number;
  /** A request's exclude of the room's healthy server was not honoured (not a member, or too soon). */
  onExcludeIgnored?: (room: string, reason: ExcludeIgnoredReason) => void;
}

export type ExcludeIgnoredReason = 'not-member' | 'interval';

export interface AssignOptions {
  /**
   * The request proves membership of the room and may move it (token mode: a resume proof
   * with the move grant; open mode: always). Default true.
   */
  memberMove?: boolean;
  /**
   * Servers the broker itself found unable to take this session (they refused a seat or did
   * not confirm one in time), with the cause a move off them is logged under. Always excluded.
   */
  withheld?: ReadonlyMap<string, MoveCause>;
}

/** How long the broker remembers which server a lost room was on, to log its move. */
const LOST_ROOM_MEMORY_MS = 5 * 60_000;
/** CAS retries before giving up; each retry means another request moved the room meanwhile. */
const MAX_ATTEMPTS = 8;
const NONE_EXCLUDED: ReadonlySet<string> = new Set();
const NO_CAUSES: ReadonlyMap<string, MoveCause> = new Map();
/** Random draws in power-of-two-choices before falling back to a full scan. */
const SAMPLE_DRAWS = 8;

/** A placement decided in memory from the pin read: where, and what else it owes the room. */
interface Plan {
  target: MediaServer;
  reserved: Reserved;
  /** The room leaves this server (logged and counted as a move). */
  move?: { from: string; cause: MoveCause };
  repair?: PinRepairCause;
  /** Live servers whose members of the room must migrate to the target. */
  evacuate: readonly MediaServer[];
  evacuateCause: MoveCause;
  split?: RoomSplit;
}

/** The plan says: wait for this server (undefined: any) to register, then decide again. */
interface Wait {
  waitFor: string | undefined;
}

export class Assigner {
  private readonly registry: ServerRegistry;
  private readonly pins: PinStore;
  private readonly now: () => number;
  private readonly ticketTtlMs: number;
  private readonly onMove: (move: RoomMove, at: number) => void;
  private readonly onRepair: (cause: PinRepairCause, count: number) => void;
  private readonly onSplit: (split: RoomSplit) => void;
  private readonly onSplitRepaired: (room: string, server: string) => void;
  private readonly migrate: (server: MediaServer, room: string, reason: MigrateReason) => void;
  private readonly warmUp: WarmUp | undefined;
  private readonly random: () => number;
  private readonly exactScanLimit: number;
  private readonly memberMoveIntervalMs: number;
  private readonly onExcludeIgnored: (room: string, reason: ExcludeIgnoredReason) => void;
  /** When each room last moved off a healthy server on members' word (oldest first). */
  private readonly memberMoves = new Map<string, number>();
  /** Rooms whose server was lost, so the later re-placement is logged as a move with its cause. */
  private readonly lostRooms = new Map<string, { from: string; cause: MoveCause; at: number }>();
  /** When each server's live rooms last had their pins renewed (stores whose pins expire). */
  private readonly keptAlive = new WeakMap<MediaServer, number>();

  constructor(options: AssignerOptions) {
    this.registry = options.registry;
    this.pins = options.pins;
    this.now = options.now;
    this.ticketTtlMs = options.ticketTtlMs;
    this.onMove = options.onMove ?? (() => {});
    this.onRepair = options.onRepair ?? (() => {});
    this.onSplit = options.onSplit ?? (() => {});
    this.onSplitRepaired = options.onSplitRepaired ?? (() => {});
    this.migrate = options.migrate ?? (() => {});
    this.warmUp = options.warmUp;
    this.random = options.random ?? Math.random;
    this.exactScanLimit = options.exactScanLimit ?? 16;
    this.memberMoveIntervalMs = options.memberMoveIntervalMs ?? 0;
    this.onExcludeIgnored = options.onExcludeIgnored ?? (() => {});
  }

  /**
   * The server for one session of `room`. Throws UsherError NO_SERVER_AVAILABLE when
   * none fits. `exclude` lists servers the client found dead; they never get the room.
   */
  async assign(
    room: string,
    exclude: readonly string[] = [],
    options: AssignOptions = {},
  ): Promise<MediaServer> {
    let excluded = exclude.length === 0 ? NONE_EXCLUDED : new Set(exclude);
    if (excluded.size > 0)
      excluded = await this.honouredExcludes(room, excluded, options.memberMove !== false);
    const withheld = options.withheld ?? NO_CAUSES;
    if (withheld.size > 0) excluded = new Set([...excluded, ...withheld.keys()]);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; ) {
      const now = this.now();
      // The common case: the room is live on one usable server. The seat is counted before the
      // store round trip, and the pin only renewed; if it names another server, decide below.
      const holder = this.registry.soleHolder(room);
      if (holder !== undefined && usable(holder, excluded)) {
        const reserved = this.registry.reserve(holder, room, now);
        // Moving a room because its server is full would split it: refuse instead.
        if (reserved === Reserved.refused) throw new UsherError('NO_SERVER_AVAILABLE');
        if (await this.pins.compareAndSet(room, holder.id, { serverId: holder.id, assignedAt: now })) {
          if (holder.healthy) return holder;
          attempt++;
          continue;
        }
        this.registry.release(holder, room, reserved);
      }
      const pin = await this.pins.get(room);
      const plan = this.plan(room, pin, excluded, this.now(), true, withheld);
      if ('waitFor' in plan) {
        // Bounded by the warm-up's end, after which no plan waits.
        await this.warmUp?.waitFor(plan.waitFor);
        continue;
      }
      attempt++;
      if (!(await this.commit(room, pin, plan))) continue;
      return plan.target;
    }
    throw new UsherError('NO_SERVER_AVAILABLE', 'the room is being moved; retry');
  }

  /**
   * The excludes this request may have: naming the room's current server while the broker sees
   * it healthy (live or pinned, not draining) moves the room with its members, which only a
   * member with the move grant may ask, and at most once per interval. Otherwise that server
   * is dropped from the set (ignored, not refused: the client is sent to the room's server).
   */
  private async honouredExcludes(
    room: string,
    excluded: ReadonlySet<string>,
    memberMove: boolean,
  ): Promise<ReadonlySet<string>> {
    let reason: ExcludeIgnoredReason | undefined;
    if (!memberMove) reason = 'not-member';
    else if (this.memberMoveIntervalMs > 0) {
      const last = this.memberMoves.get(room);
      if (last !== undefined && this.now() - last < this.memberMoveIntervalMs) reason = 'interval';
    }
    if (reason === undefined) return excluded;
    const current = new Set<string>();
    const holders = this.registry.holders(room);
    if (holders !== undefined) for (const server of holders.keys()) current.add(server.id);
    const pin = await this.pins.get(room);
    if (pin !== undefined) current.add(pin.serverId);
    let kept: Set<string> | undefined;
    for (const id of excluded) {
      const server = current.has(id) ? this.registry.get(id) : undefined;
      if (server?.healthy && !server.draining) {
        kept ??= new Set(excluded);
        kept.delete(id);
      }
    }
    if (kept === undefined) return excluded;
    this.onExcludeIgnored(room, reason);
    return kept;
  }

  private noteMemberMove(room: string, now: number): void {
    if (this.memberMoveIntervalMs <= 0) return;
    for (const [oldRoom, at] of this.memberMoves) {
      if (now - at < this.memberMoveIntervalMs) break;
      this.memberMoves.delete(oldRoom);
    }
    this.memberMoves.delete(room); // re-insert so the map stays ordered by time
    this.memberMoves.set(room, now);
  }

  /**
   * An operator's planned move (the server API): the pin goes to `to` (or the least-loaded
   * other server) and every live holder is told to migrate its members there, cause `operator`.
   * Throws ROOM_NOT_FOUND when no server holds the room live, NO_SERVER_AVAILABLE when the
   * target cannot take it.
   */
  async moveRoom(room: string, to?: string): Promise<RoomMove> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const holders = this.registry.holders(room);
      if (holders === undefined || holders.size === 0) throw new UsherError('ROOM_NOT_FOUND');
      const pin = await this.pins.get(room);
      const pinned = pin === undefined ? undefined : this.registry.get(pin.serverId);
      const from = pinned !== undefined && holders.has(pinned) ? pinned : [...holders.keys()][0]!;
      let target: MediaServer | undefined;
      if (to === undefined) target = this.pick(NONE_EXCLUDED, from.id);
      else {
        target = this.registry.get(to);
        if (target === undefined || target === from || !acceptsNewRooms(target))
          throw new UsherError('NO_SERVER_AVAILABLE', 'that media server cannot take the room');
      }
      if (target === undefined) throw new UsherError('NO_SERVER_AVAILABLE');
      const plan: Plan = {
        target,
        reserved: Reserved.refused,
        move: { from: from.id, cause: 'operator' },
        evacuate: [...holders.keys()],
        evacuateCause: 'operator',
      };
      if (await this.commit(room, pin, plan))
        return { room, from: from.id, to: target.id, cause: 'operator' };
    }
    throw new UsherError('NO_SERVER_AVAILABLE', 'the room is being moved; retry');
  }

  /**
   * A server (re)registered with these rooms live on it (the registry already knows them):
   * repair their pins, and resolve any split with a server that holds the room too.
   */
  async serverRegistered(server: MediaServer, rooms: readonly string[]): Promise<void> {
    for (const room of rooms) {
      const pin = await this.pins.get(room);
      if (pin?.serverId === server.id) {
        this.lostRooms.delete(room);
        continue;
      }
      await this.reconcile(room, pin, 'registration');
    }
  }

  /**
   * The server is gone: it gets no new sessions and its pins are deleted. Returns its rooms.
   * During a warm-up the pins stay: the server may be on its way back, and its rooms wait.
   */
  async serverLost(server: MediaServer, cause: MoveCause = 'dead'): Promise<string[]> {
    const known = this.registry.roomsOf(server);
    this.registry.remove(server);
    // With a shared store another broker may have deleted the pins first: the rooms the server
    // reported to this broker count too, so whichever broker re-places a room logs the move.
    const deleted = this.warming ? [] : await this.pins.deleteByServer(server.id);
    const rooms = [...new Set([...deleted, ...known])];
    const now = this.now();
    this.forgetLostRooms(now);
    for (const room of rooms) {
      this.lostRooms.delete(room); // re-insert so the map stays ordered by time
      this.lostRooms.set(room, { from: server.id, cause, at: now });
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
    // The live index first, whole and before any store call: a report is a delta nobody sends
    // again, so a store that fails (or goes away) below must not leave part of it unapplied —
    // a room missing from the index is placed as new, beside its members.
    for (const room of closed)
      if (this.registry.roomClosed(server, room) === 'split') this.onSplitRepaired(room, server.id);
    const arrived: string[] = [];
    for (const room of opened) {
      // Members arrived after the room was moved away from here: tell them too.
      if (this.registry.roomOpened(server, room, now)) arrived.push(room);
      else this.migrate(server, room, 'moved');
    }
    // Then the pins, each room on its own: one failed store call skips no other room.
    let failure: unknown;
    const tolerate = async (work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        failure ??= error;
      }
    };
    for (const room of closed) await tolerate(() => this.expireIfIdle(server, room, now));
    for (const room of arrived)
      await tolerate(async () => {
        const pin = await this.pins.get(room);
        // A pin that expired, or a newcomer that landed beside the members elsewhere: converge.
        if (pin?.serverId !== server.id) await this.reconcile(room, pin, 'missing');
      });
    await tolerate(() => this.sweepUnconfirmed(server));
    await tolerate(() => this.keepAlive(server, now));
    if (failure !== undefined) throw failure;
  }

  /** The store is back after an outage and may have lost pins: re-pin every live room now. */
  async storeReconnected(): Promise<void> {
    const now = this.now();
    for (const server of [...this.registry.all()]) {
      if (!server.healthy) continue;
      this.keptAlive.set(server, now);
      const pinned = await this.pins.keepAlive(server.id, [...server.rooms], now);
      if (pinned > 0) this.onRepair('store-reconnect', pinned);
    }
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
   * Where the room goes given its pin, decided synchronously from the registry (so the seat it
   * reserves is counted before any other request looks). `session`: reserve a seat for a request.
   */
  private plan(
    room: string,
    pin: Pin | undefined,
    excluded: ReadonlySet<string>,
    now: number,
    session: boolean,
    withheld: ReadonlyMap<string, MoveCause> = NO_CAUSES,
  ): Plan | Wait {
    const pinned = pin === undefined ? undefined : this.registry.get(pin.serverId);
    const holders = this.registry.holders(room);
    if (holders !== undefined && holders.size > 0) {
      const winner = splitWinner(holders, pinned, excluded);
      if (winner !== undefined) {
        const losers: MediaServer[] = [];
        for (const server of holders.keys()) if (server !== winner) losers.push(server);
        // A pin just moved to another usable server is a move under way (another broker's, or a
        // member's exclude): the pin wins, and the live members are told to follow it.
        if (
          losers.length === 0 &&
          pin !== undefined &&
          pinned !== undefined &&
          pinned !== winner &&
          usable(pinned, excluded) &&
          now - pin.assignedAt < this.ticketTtlMs
        )
          return this.planned(room, pinned, now, session, { evacuate: [winner], evacuateCause: 'member' });
        const split =
          losers.length === 0
            ? undefined
            : { room, servers: [...holders.keys()].map((server) => server.id), winner: winner.id };
        return this.planned(room, winner, now, session, {
          evacuate: losers,
          evacuateCause: 'split',
          ...(split === undefined ? {} : { split }),
          ...(pin?.serverId === winner.id
            ? {}
            : { repair: pin === undefined ? 'missing' : 'live-elsewhere' }),
        });
      }
      // Every holder is excluded by this client or draining: the room moves, members along.
      const evacuate = [...holders.keys()].filter((server) => !server.draining);
      const from =
        pinned !== undefined && holders.has(pinned) ? pinned : (holders.keys().next().value as MediaServer);
      const cause: MoveCause = from.draining
        ? 'drained'
        : from.seatsUnanswered
          ? 'frozen'
          : (withheld.get(from.id) ?? 'member');
      if (pinned !== undefined && !holders.has(pinned) && usable(pinned, excluded))
        return this.planned(room, pinned, now, session, { evacuate, evacuateCause: cause });
      return this.placed(room, now, excluded, from.id, session, {
        move: { from: from.id, cause },
        evacuate,
        evacuateCause: cause,
      });
    }
    if (pin === undefined) {
      // Without a durable store a restarted broker cannot tell a new room from one whose server
      // has not re-registered yet: it waits for the warm-up's end (or a registration).
      if (this.warming && this.pins.durable !== true) return { waitFor: undefined };
      const lost = this.lostRooms.get(room);
      return this.placed(room, now, excluded, undefined, session, {
        ...(lost === undefined ? {} : { move: { from: lost.from, cause: lost.cause } }),
        evacuate: [],
        evacuateCause: 'member',
      });
    }
    if (pinned === undefined || !pinned.healthy) {
      if (this.warming && !excluded.has(pin.serverId)) return { waitFor: pin.serverId };
      const cause = this.lostRooms.get(room)?.cause ?? 'dead';
      return this.placed(room, now, excluded, pin.serverId, session, {
        move: { from: pin.serverId, cause },
        evacuate: [],
        evacuateCause: cause,
      });
    }
    if (pinned.draining)
      return this.placed(room, now, excluded, pinned.id, session, {
        move: { from: pinned.id, cause: 'drained' },
        evacuate: [],
        evacuateCause: 'drained',
      });
    if (excluded.has(pinned.id) || pinned.seatsUnanswered) {
      // The pinned server is alive and may hold members this broker has not heard of yet.
      const cause = pinned.seatsUnanswered ? 'frozen' : (withheld.get(pinned.id) ?? 'member');
      return this.placed(room, now, excluded, pinned.id, session, {
        move: { from: pinned.id, cause },
        evacuate: [pinned],
        evacuateCause: cause,
      });
    }
    return this.planned(room, pinned, now, session, { evacuate: [], evacuateCause: 'member' });
  }

  /** A plan for the room's own server (pinned or live): full means refused, never a split. */
  private planned(
    room: string,
    target: MediaServer,
    now: number,
    session: boolean,
    rest: Omit<Plan, 'target' | 'reserved'>,
  ): Plan {
    if (!session) return { target, reserved: Reserved.refused, ...rest }; // nothing to undo
    const reserved = this.registry.reserve(target, room, now);
    if (reserved === Reserved.refused) throw new UsherError('NO_SERVER_AVAILABLE');
    return { target, reserved, ...rest };
  }

  /** A plan for a new server picked for the room (never `also`, its current one). */
  private placed(
    room: string,
    now: number,
    excluded: ReadonlySet<string>,
    also: string | undefined,
    session: boolean,
    rest: Omit<Plan, 'target' | 'reserved'>,
  ): Plan {
    const target = this.pick(excluded, also);
    if (target === undefined) throw new UsherError('NO_SERVER_AVAILABLE');
    return this.planned(room, target, now, session, rest);
  }

  /** Writes the plan's pin by compare-and-set; on success, tells everyone what it owes them. */
  private async commit(room: string, pin: Pin | undefined, plan: Plan): Promise<boolean> {
    const { target } = plan;
    const at = this.now();
    const written = await this.pins.compareAndSet(room, pin?.serverId, {
      serverId: target.id,
      assignedAt: at,
    });
    if (!written || !target.healthy) {
      // Another request changed the pin first (re-read and follow it), or the target was lost.
      this.registry.release(target, room, plan.reserved);
      return false;
    }
    this.lostRooms.delete(room);
    if (plan.move?.cause === 'member' && plan.move.from !== target.id) this.noteMemberMove(room, this.now());
    if (plan.split !== undefined) this.onSplit(plan.split);
    if (plan.move !== undefined && plan.move.from !== target.id)
      this.onMove({ room, from: plan.move.from, to: target.id, cause: plan.move.cause }, at);
    if (plan.repair !== undefined) this.onRepair(plan.repair, 1);
    for (const server of plan.evacuate) {
      if (server === target || !this.registry.evacuate(server, room, plan.evacuateCause)) continue;
      if (plan.split !== undefined) this.onMove({ room, from: server.id, to: target.id, cause: 'split' }, at);
      this.migrate(server, room, plan.split === undefined ? 'moved' : 'split');
    }
    return true;
  }

  /** Outside a request (a registration, a report): bring the pin and the live holders together. */
  private async reconcile(room: string, pin: Pin | undefined, repair: PinRepairCause): Promise<void> {
    let current = pin;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const holders = this.registry.holders(room);
      if (holders === undefined || holders.size === 0) return;
      const plan = this.plan(room, current, NONE_EXCLUDED, this.now(), false);
      if ('waitFor' in plan) return;
      if (plan.repair !== undefined && (repair === 'registration' || plan.repair === 'missing'))
        plan.repair = repair;
      if (current?.serverId === plan.target.id && plan.evacuate.length === 0) return;
      if (await this.commit(room, current, plan)) return;
      current = await this.pins.get(room);
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
      const pinned = await this.pins.keepAlive(server.id, [...server.rooms], now);
      if (pinned > 0) this.onRepair('missing', pinned);
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

  private get warming(): boolean {
    return this.warmUp?.active === true;
  }

  private forgetLostRooms(now: number): void {
    for (const [room, lost] of this.lostRooms) {
      if (now - lost.at < LOST_ROOM_MEMORY_MS) break;
      this.lostRooms.delete(room);
    }
  }
}

/** May this client's members of a room go here (it is not excluded, nor draining)? */
function usable(server: MediaServer, excluded: ReadonlySet<string>): boolean {
  return server.healthy && !server.draining && !server.seatsUnanswered && !excluded.has(server.id);
}

/**
 * Of the servers holding a room live, the one its members gather on: the pinned one if it is
 * among them, else the one that has held it longest (most likely the most members: the broker
 * does not see per-room counts after registration), then the lowest id. Unusable ones never win.
 */
function splitWinner(
  holders: ReadonlyMap<MediaServer, number>,
  pinned: MediaServer | undefined,
  excluded: ReadonlySet<string>,
): MediaServer | undefined {
  if (pinned !== undefined && holders.has(pinned) && usable(pinned, excluded)) return pinned;
  let best: MediaServer | undefined;
  let bestSince = Number.POSITIVE_INFINITY;
  for (const [server, since] of holders) {
    if (!usable(server, excluded)) continue;
    if (since < bestSince || (since === bestSince && best !== undefined && server.id < best.id)) {
      best = server;
      bestSince = since;
    }
  }
  return best;
}

/**
 * Can take a new room: not excluded by the client, not `also` (a room's current server when it
 * moves), and below capacity and not draining. Module-level rather than a closure per pick.
 */
function eligible(server: MediaServer, excluded: ReadonlySet<string>, also: string | undefined): boolean {
  return server.id !== also && !excluded.has(server.id) && acceptsNewRooms(server);
}
