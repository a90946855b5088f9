// The webhook events the fleet's facts owe the application's backend, each with a fact key
// built only from what the media server reported (ids, its clock's join times, its start
// time), so every broker names the same fact the same way and the claim store sends it once.
import type { ControlParticipant, LeaveReason } from '../../shared/protocol/control.ts';
import type { RoomMove } from './assignment.ts';
import type { MediaServer, Participant, ServerRegistry } from './registry.ts';
import type { WebhookEventInput } from './webhooks.ts';

/** Where events go (the WebhookDispatcher); `onceKey` names the fact across brokers. */
export interface WebhookSink {
  enqueue(input: WebhookEventInput, onceKey?: string): unknown;
}

/** A move as placement reports it, with the time the winning pin was written. */
export interface TimedMove extends RoomMove {
  at: number;
}

export class FleetWebhooks {
  constructor(
    private readonly sink: WebhookSink,
    private readonly registry: ServerRegistry,
  ) {}

  /**
   * A member joined (`room-opened`: the room's first here). room.started only when no other
   * server holds members of the room: members following a move do not start it again.
   */
  joined(server: MediaServer, entry: ControlParticipant, opened: boolean): void {
    const { room } = entry;
    if (opened && !this.registry.heldElsewhere(room, server)) {
      this.sink.enqueue(
        { event: 'room.started', room, server: server.id },
        `room.started\n${server.id}\n${room}\n${entry.joinedAt}`,
      );
    }
    this.sink.enqueue(
      {
        event: 'participant.joined',
        room,
        server: server.id,
        participant: { identity: entry.identity, name: entry.name, peerId: entry.peerId },
      },
      `participant.joined\n${server.id}\n${room}\n${entry.peerId}\n${entry.joinedAt}`,
    );
  }

  /** A membership ended; room.finished when it was the room's last here and no other server holds it. */
  left(
    server: MediaServer,
    room: string,
    member: Participant,
    reason: LeaveReason,
    closed: { openedAt: number } | undefined,
  ): void {
    this.sink.enqueue(
      {
        event: 'participant.left',
        room,
        server: server.id,
        participant: { identity: member.identity, name: member.name, peerId: member.peerId },
        reason,
      },
      `participant.left\n${server.id}\n${room}\n${member.peerId}\n${member.joinedAt}`,
    );
    if (closed !== undefined && !this.registry.heldElsewhere(room, server)) {
      this.sink.enqueue(
        { event: 'room.finished', room, server: server.id },
        `room.finished\n${server.id}\n${room}\n${closed.openedAt}`,
      );
    }
  }

  /** The broker dropped the server (its members are reported later: see membersLost). */
  lost(server: MediaServer, cause: 'dead' | 'frozen', rooms: readonly string[]): void {
    this.sink.enqueue(
      { event: 'server.lost', server: server.id, cause, rooms: rooms.slice(0, 10_000) },
      `server.lost\n${server.id}\n${server.startedAt ?? server.registeredAt}`,
    );
  }

  /**
   * A lost server did not come back: its members count as left (`lost`) under the same fact
   * keys as their own leave, so a broker that saw them leave and one that did not send one event.
   */
  membersLost(server: MediaServer): void {
    for (const [room, entry] of server.roomMembers) {
      const members = [...entry.members.values()];
      members.forEach((member, index) => {
        const last = index === members.length - 1;
        this.left(server, room, member, 'lost', last ? { openedAt: entry.openedAt } : undefined);
      });
    }
  }

  /** Placement moved a room (the winning compare-and-set, so one broker reports most moves). */
  moved(move: TimedMove): void {
    this.sink.enqueue(
      { event: 'room.moved', room: move.room, from: move.from, to: move.to, cause: move.cause },
      `room.moved\n${move.room}\n${move.from}\n${move.to}\n${move.at}`,
    );
  }
}
