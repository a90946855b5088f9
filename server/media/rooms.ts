// The room registry: which peers are in which room on this server, with O(1) join,
// leave and lookup, running totals for load reports, and hooks when a room opens or empties.
import type { ErrorCode } from '../../shared/errors.ts';
import type { Capacity } from '../../shared/protocol/control.ts';

export interface Member {
  readonly peerId: string;
  readonly name: string;
  /** The application's user id (token mode) or the peer id: one per room at a time. */
  readonly identity: string;
}

/** How a member left, as its connection saw it. */
export type Departure = 'left' | 'disconnected';

export interface RoomHooks<M extends Member = Member> {
  /** A room got its first peer. */
  opened?(room: string): void;
  /** A room lost its last peer (and was deleted). */
  closed?(room: string): void;
  /** A member joined (before `opened` of a new room has told anyone else). `replaced`: its own earlier connection. */
  added?(room: string, member: M, replaced: M | undefined): void;
  /** A member that was the current holder of its peer id left (before `closed`). */
  removed?(room: string, member: M, how: Departure): void;
}

export class RoomRegistry<M extends Member> {
  private readonly rooms = new Map<string, Map<string, M>>();
  /** Per room, the member holding each identity. */
  private readonly identities = new Map<string, Map<string, M>>();
  private peers = 0;

  constructor(private readonly hooks: RoomHooks<M> = {}) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  get peerCount(): number {
    return this.peers;
  }

  get(room: string, peerId: string): M | undefined {
    return this.rooms.get(room)?.get(peerId);
  }

  size(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }

  /** The members of a room, in join order (empty for an unknown room). */
  members(room: string): IterableIterator<M> {
    return (this.rooms.get(room) ?? EMPTY).values() as IterableIterator<M>;
  }

  /** The member of `room` holding `identity`, if any. */
  holderOf(room: string, identity: string): M | undefined {
    return this.identities.get(room)?.get(identity);
  }

  /** Every live room with its peer count (for register). */
  *list(): IterableIterator<{ room: string; peers: number }> {
    for (const [room, members] of this.rooms) yield { room, peers: members.size };
  }

  /**
   * Adds `member`; if a member with the same peer id is already there (the same session
   * reconnecting), it is replaced and returned so the caller can close its socket.
   */
  add(room: string, member: M): M | undefined {
    let members = this.rooms.get(room);
    if (members === undefined) {
      members = new Map();
      this.rooms.set(room, members);
      this.hooks.opened?.(room);
    }
    const previous = members.get(member.peerId);
    members.set(member.peerId, member);
    let identities = this.identities.get(room);
    if (identities === undefined) {
      identities = new Map();
      this.identities.set(room, identities);
    }
    identities.set(member.identity, member);
    if (previous === undefined) this.peers += 1;
    this.hooks.added?.(room, member, previous);
    return previous;
  }

  /** Removes `member` only if it is still the current holder of its peer id; true if removed. */
  remove(room: string, member: M, how: Departure = 'disconnected'): boolean {
    const members = this.rooms.get(room);
    if (members === undefined || members.get(member.peerId) !== member) return false;
    members.delete(member.peerId);
    const identities = this.identities.get(room);
    if (identities?.get(member.identity) === member) identities.delete(member.identity);
    this.peers -= 1;
    this.hooks.removed?.(room, member, how);
    if (members.size === 0) {
      this.rooms.delete(room);
      this.identities.delete(room);
      this.hooks.closed?.(room);
    }
    return true;
  }

  /**
   * Whether `peerId` may join `room` within `capacity`: null, or the refusal code. A peer
   * replacing its own earlier connection takes no new seat.
   */
  admit(room: string, peerId: string, capacity: Capacity): ErrorCode | null {
    const members = this.rooms.get(room);
    if (members?.has(peerId)) return null;
    if (members === undefined && this.rooms.size >= capacity.maxRooms) return 'SERVER_FULL';
    if (this.peers >= capacity.maxPeers) return 'SERVER_FULL';
    if (members !== undefined && members.size >= capacity.maxPeersPerRoom) return 'ROOM_FULL';
    return null;
  }
}

const EMPTY: ReadonlyMap<string, never> = new Map<string, never>();
