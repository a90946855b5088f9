// The media fleet's lifecycle as the broker sees it — registration, load reports, loss,
// drain — with the log line and metric each event owes the operator.
import { UsherError } from '../../shared/errors.ts';
import type {
  ControlOutbound,
  ControlParticipant,
  ControlParticipantLeft,
  LoadReport,
  RemoveParticipant,
} from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import type { Logger } from '../common/logger.ts';
import type { Assigner, MigrateReason } from './assignment.ts';
import type { FleetWebhooks } from './fleet-webhooks.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { MediaServer, ServerInit, ServerRegistry } from './registry.ts';
import type { SeatOutcome, SeatRequest, SeatRequests } from './seat-requests.ts';
import type { WarmUp } from './warm-up.ts';

export type LossReason = 'heartbeat-timeout' | 'control-closed';

/** How the broker talks back to one server (its control socket). */
export type ControlSend = (message: ControlOutbound) => void;

export interface FleetOptions {
  registry: ServerRegistry;
  assigner: Assigner;
  logger: Logger;
  metrics: BrokerMetrics;
  now: () => number;
  /** Told of every registration, so requests waiting for a server go on at once. */
  warmUp?: WarmUp;
  /** The webhook events of joins, leaves and losses (none when no webhook URL is set). */
  webhooks?: FleetWebhooks;
  /**
   * A lost server's members count as left (`lost`) only if it has not re-registered, the same
   * process, within this long: a control channel that drops and comes back ends no membership.
   * Default 10 s.
   */
  lostMemberGraceMs?: number;
}

/** A room the server holds live, as its registration lists it. */
export interface LiveRoom {
  room: string;
  peers: number;
}

export class Fleet {
  private readonly options: FleetOptions;
  private readonly links = new Map<MediaServer, ControlSend>();
  private readonly seatLinks = new Map<MediaServer, SeatRequests>();
  /** Set when the broker shuts down: its control sockets closing is not a server loss. */
  private stopped = false;
  /** Lost servers whose members are reported left when the grace ends, by id. */
  private readonly lostMembers = new Map<string, { server: MediaServer; timer: NodeJS.Timeout }>();

  constructor(options: FleetOptions) {
    this.options = options;
  }

  /** A live registration holds this id (a newcomer must be refused with ID_IN_USE). */
  holds(id: string): boolean {
    return this.options.registry.get(id) !== undefined;
  }

  /**
   * Synchronous, so two racing registrations for one id cannot both win, and the server's live
   * rooms are placement's truth before any request can look.
   */
  register(
    init: ServerInit,
    rooms: readonly LiveRoom[],
    send: ControlSend,
    members: readonly ControlParticipant[] = [],
    seats?: SeatRequests,
  ): MediaServer {
    const { registry } = this.options;
    const server = registry.add(init);
    const lost = this.lostMembers.get(init.id);
    if (lost !== undefined) {
      // The same process is back: its members stay; another process means they are gone.
      this.lostMembers.delete(init.id);
      clearTimeout(lost.timer);
      if (init.startedAt === undefined || init.startedAt !== lost.server.startedAt)
        this.options.webhooks?.membersLost(lost.server);
    }
    let peers = 0;
    for (const entry of rooms) peers += entry.peers;
    registry.registered(
      server,
      rooms.map((entry) => entry.room),
      peers,
      init.now,
    );
    this.links.set(server, send);
    if (seats !== undefined) this.seatLinks.set(server, seats);
    // Announced again: a broker that was down when they joined tells now, under the same fact keys.
    this.joined(server, members);
    this.options.warmUp?.registered(server.id);
    this.options.logger.info({ id: server.id, url: server.url }, 'media server registered');
    this.options.metrics.serversRegistered.inc();
    return server;
  }

  /**
   * Rebuild pins from the rooms the server says it holds (a restarted broker loses no room).
   * A shared store that is down does not fail the registration: the pins it holds survive,
   * and the next keep-alive re-pins what it lost.
   */
  async restoreRooms(server: MediaServer, rooms: readonly string[]): Promise<void> {
    await this.tolerateStore(this.options.assigner.serverRegistered(server, rooms), server, 'restore');
  }

  async report(server: MediaServer, load: LoadReport): Promise<void> {
    if (!server.healthy) return;
    const { registry } = this.options;
    if (registry.report(server, load, this.options.now()))
      this.options.logger.info({ id: server.id }, 'media server draining');
    // In the order they happened on the server (control.ts).
    for (const change of load.changes ?? []) {
      if (change.event === 'left') this.left(server, change);
      else {
        const { event: _event, ...member } = change;
        this.joined(server, [member]);
      }
    }
    await this.tolerateStore(
      this.options.assigner.roomsChanged(server, load.opened, load.closed),
      server,
      'report',
    );
  }

  /** Removes the server at once: no new sessions, pins deleted. Idempotent. */
  async lose(server: MediaServer, reason: LossReason): Promise<void> {
    if (!server.healthy || this.stopped) return;
    const { assigner, logger, metrics } = this.options;
    this.links.delete(server);
    this.seatLinks.delete(server);
    let rooms: string[] | undefined;
    // The registry entry goes first, so a store that is down only leaves pins that the next
    // request for each room moves (their server is unknown) or that expire.
    await this.tolerateStore(
      assigner.serverLost(server, reason === 'heartbeat-timeout' ? 'frozen' : 'dead').then((lost) => {
        rooms = lost;
      }),
      server,
      'lose',
    );
    logger.warn({ id: server.id, reason, rooms: rooms?.length ?? null }, 'media server lost');
    const { webhooks } = this.options;
    if (webhooks !== undefined) {
      webhooks.lost(
        server,
        reason === 'heartbeat-timeout' ? 'frozen' : 'dead',
        rooms ?? [...server.roomMembers.keys()],
      );
      const previous = this.lostMembers.get(server.id);
      if (previous !== undefined) clearTimeout(previous.timer);
      const timer = setTimeout(() => {
        this.lostMembers.delete(server.id);
        webhooks.membersLost(server);
      }, this.options.lostMemberGraceMs ?? 10_000);
      timer.unref();
      this.lostMembers.set(server.id, { server, timer });
    }
    metrics.serversLost.inc({ reason });
  }

  private left(server: MediaServer, left: ControlParticipantLeft): void {
    const gone = this.options.registry.memberLeft(server, left.room, left.peerId, left.joinedAt);
    if (gone === undefined) return;
    this.options.webhooks?.left(
      server,
      left.room,
      gone.member,
      left.reason,
      gone.emptied ? { openedAt: gone.openedAt } : undefined,
    );
  }

  private joined(server: MediaServer, entries: readonly ControlParticipant[]): void {
    const { registry, webhooks, logger } = this.options;
    let overLimit = 0;
    for (const entry of entries) {
      const outcome = registry.memberJoined(server, entry);
      if (outcome === 'over-limit') overLimit++;
      else if (outcome !== 'known') webhooks?.joined(server, entry, outcome === 'room-opened');
    }
    if (overLimit > 0)
      logger.warn(
        { id: server.id, untracked: overLimit },
        'media server reports more members than its capacity',
      );
  }

  /** Asks the server for a seat over its control channel (`gone` when it has none). */
  reserveSeat(server: MediaServer, request: SeatRequest, timeoutMs: number): Promise<SeatOutcome> {
    const seats = this.seatLinks.get(server);
    if (seats === undefined || !server.healthy) return Promise.resolve({ kind: 'gone' });
    return seats.reserve(request, timeoutMs);
  }

  /** Tells the room's server to close the connections of a participant (the server API). */
  removeParticipant(
    server: MediaServer,
    room: string,
    identity: string,
    reason: RemoveParticipant['reason'],
  ): boolean {
    const send = this.links.get(server);
    send?.({ type: 'remove', v: PROTOCOL_VERSION, room, identity, reason });
    return send !== undefined;
  }

  /** A pin store error (UsherError: the shared store is down, and it logs that) must not stop the fleet's bookkeeping. */
  private async tolerateStore(work: Promise<void>, server: MediaServer, step: string): Promise<void> {
    try {
      await work;
    } catch (error) {
      if (!(error instanceof UsherError)) throw error;
      this.options.logger.debug({ id: server.id, step, code: error.code }, 'room pins not updated');
    }
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.lostMembers.values()) clearTimeout(timer);
    this.lostMembers.clear();
  }

  /** Tells a live server to send one room's members elsewhere (the room moved away from it). */
  migrateRoom(server: MediaServer, room: string, reason: MigrateReason): void {
    this.links.get(server)?.({ type: 'migrate', v: PROTOCOL_VERSION, room, reason });
  }

  /** The shared store is back after an outage: re-pin every live room now. */
  async storeReconnected(): Promise<void> {
    try {
      await this.options.assigner.storeReconnected();
    } catch (error) {
      if (!(error instanceof UsherError)) throw error;
      this.options.logger.debug({ code: error.code }, 'room pins not re-asserted');
    }
  }

  /** Admin drain: no new rooms here from now on, and the server is told to migrate its clients. */
  drain(id: string): MediaServer | undefined {
    const server = this.options.registry.get(id);
    if (server === undefined) return undefined;
    if (this.options.registry.requestDrain(server)) this.options.logger.info({ id }, 'media server draining');
    this.links.get(server)?.({ type: 'drain', v: PROTOCOL_VERSION });
    return server;
  }
}
