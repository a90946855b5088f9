// Who is in which room on this media server, as the brokers hear it: each membership's
// identity and join time, and why it ended, for the control channel's `joined`/`left`.
import type { ControlParticipant, LeaveReason } from '../../shared/protocol/control.ts';
import type { MediaConnection } from './connection.ts';
import type { Departure } from './rooms.ts';

/**
 * The application's identity of a member: the join token's, carried in the ticket (in open
 * mode the broker writes the session id there).
 */
export function identityOf(member: MediaConnection): string {
  return member.identity === '' ? member.peerId : member.identity;
}

/** Join times and pending removals of the members this server holds. */
export class Participants {
  private readonly joinedAt = new WeakMap<MediaConnection, number>();
  private readonly removing = new WeakSet<MediaConnection>();

  constructor(private readonly now: () => number) {}

  /** A member joined: its report entry. */
  joined(room: string, member: MediaConnection): ControlParticipant {
    const joinedAt = this.now();
    this.joinedAt.set(member, joinedAt);
    return { room, peerId: member.peerId, identity: identityOf(member), name: member.name, joinedAt };
  }

  /** The same session reconnected: the membership goes on (same join time, nothing reported). */
  continued(previous: MediaConnection, member: MediaConnection): void {
    this.joinedAt.set(member, this.joinedAt.get(previous) ?? this.now());
  }

  /** The server API is closing this member. */
  markRemoving(member: MediaConnection): void {
    this.removing.add(member);
  }

  /** A member left: which membership, and why. */
  left(
    room: string,
    member: MediaConnection,
    how: Departure,
  ): { room: string; peerId: string; joinedAt: number; reason: LeaveReason } {
    const reason: LeaveReason = this.removing.has(member) ? 'removed' : how === 'left' ? 'left' : 'lost';
    return { room, peerId: member.peerId, joinedAt: this.joinedAt.get(member) ?? 0, reason };
  }

  /** The report entry of a member that is still here (for register). */
  entry(room: string, member: MediaConnection): ControlParticipant {
    return {
      room,
      peerId: member.peerId,
      identity: identityOf(member),
      name: member.name,
      joinedAt: this.joinedAt.get(member) ?? 0,
    };
  }
}
