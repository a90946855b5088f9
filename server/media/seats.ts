// The media server's own book of seats: a broker asks for one (`reserve`) before it sends a
// client here; the server checks its capacity and state, holds the seat for the reservation
// window and answers with a confirmation it signs with a key only this process holds. A join
// with that confirmation takes the seat. docs/ARCHITECTURE.md "Server-confirmed seats".
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../../shared/errors.ts';
import type { Capacity, SeatRefused, SeatReserve, SeatReserved } from '../../shared/protocol/control.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { readHs256, signHs256 } from '../common/compact-jws.ts';
import { grantLetters, grantsOf, randomId, type TicketGrants } from '../common/tickets.ts';

export const SEAT_TYPE = 'usher-seat+jwt';
export const SEAT_ISSUER = 'usher-seat';
/** A seat not joined within this long is released (the broker may ask for less). */
export const DEFAULT_SEAT_WINDOW_MS = 15_000;

/** What the book needs to know of the server's rooms and state. */
export interface SeatBookHost {
  readonly peerCount: number;
  readonly roomCount: number;
  /** Members of `room` here now (0: not live). */
  size(room: string): number;
  draining(): boolean;
}

export interface SeatBookOptions {
  readonly serverId: string;
  /** The public URL clients dial, named in every confirmation (known once the server listens). */
  url(): string;
  readonly capacity: Capacity;
  readonly host: SeatBookHost;
  readonly now: () => number;
  /** Default DEFAULT_SEAT_WINDOW_MS. */
  readonly windowMs?: number;
  /** Default: 32 random bytes, made here and never sent anywhere. */
  readonly key?: Uint8Array;
}

/** A seat claimed by a join: who the session is. */
export interface SeatClaims {
  sessionId: string;
  room: string;
  name: string;
  identity: string;
  grants: TicketGrants;
}

interface Seat {
  readonly room: string;
  readonly expiresAt: number;
}

export type ClaimResult =
  | { kind: 'not-seat' }
  | { kind: 'refused'; code: ErrorCode }
  | { kind: 'claimed'; claims: SeatClaims };

export class SeatBook {
  private readonly key: Uint8Array;
  private readonly kid: string;
  /** The first segment and dot of every confirmation this book signs. */
  private readonly headerPrefix: string;
  private readonly windowMs: number;
  /** Seat id → seat, in order of reservation (so expiry sweeps stop at the first live one). */
  private readonly held = new Map<string, Seat>();
  /** Room → seats held in it. */
  private readonly byRoom = new Map<string, number>();

  constructor(private readonly options: SeatBookOptions) {
    this.key = options.key ?? new Uint8Array(randomBytes(32));
    // Names this process's key: a confirmation from another server (or an earlier life) never finds it.
    this.kid = `${options.serverId.slice(0, 40)}.${randomId(6)}`;
    this.headerPrefix = `${signHs256(this.key, this.kid, SEAT_TYPE, '{}').split('.')[0]}.`;
    this.windowMs = options.windowMs ?? DEFAULT_SEAT_WINDOW_MS;
  }

  /** Seats held and not yet joined (expired ones released first). */
  get size(): number {
    this.sweep(this.options.now());
    return this.held.size;
  }

  /** One reservation: a seat and the confirmation, or the reason there is none. */
  reserve(request: SeatReserve): SeatReserved | SeatRefused {
    const { capacity, host } = this.options;
    const now = this.options.now();
    this.sweep(now);
    const refuse = (code: SeatRefused['code']): SeatRefused => ({
      type: 'refused',
      v: PROTOCOL_VERSION,
      id: request.id,
      code,
    });
    if (host.draining()) return refuse('SERVER_DRAINING');
    if (host.peerCount + this.held.size >= capacity.maxPeers) return refuse('SERVER_FULL');
    const inRoom = host.size(request.room) + (this.byRoom.get(request.room) ?? 0);
    if (inRoom >= capacity.maxPeersPerRoom) return refuse('ROOM_FULL');
    // The exact count of rooms held only by seats is paid for only near the limit.
    if (
      inRoom === 0 &&
      host.roomCount + this.byRoom.size >= capacity.maxRooms &&
      host.roomCount + this.newRooms() >= capacity.maxRooms
    )
      return refuse('SERVER_FULL');
    const seatId = randomId();
    const expiresAt = Math.min(request.expiresAt, now + this.windowMs);
    this.held.set(seatId, { room: request.room, expiresAt });
    this.byRoom.set(request.room, (this.byRoom.get(request.room) ?? 0) + 1);
    const payload =
      `{"iss":"${SEAT_ISSUER}","srv":${JSON.stringify(this.options.serverId)},"url":${JSON.stringify(this.options.url())},` +
      `"room":${JSON.stringify(request.room)},"sub":${JSON.stringify(request.sessionId)},` +
      `"idn":${JSON.stringify(request.identity)},"name":${JSON.stringify(request.name)},` +
      `"grt":"${request.grants ?? grantLetters({ publish: true, data: true, move: true, admin: false })}",` +
      `"jti":"${seatId}","exp":${Math.floor(expiresAt / 1000)},"xms":${expiresAt}}`;
    return {
      type: 'reserved',
      v: PROTOCOL_VERSION,
      id: request.id,
      confirmation: signHs256(this.key, this.kid, SEAT_TYPE, payload),
    };
  }

  /**
   * A join's ticket: `not-seat` when this book did not sign it (the broker-ticket path decides,
   * and asks `foreignRefusal` when that fails), else the seat it takes or the TICKET_* code that
   * refuses it. Once joined (or expired) a seat is gone from the book, so a second use is
   * TICKET_REPLAYED. A confirmation for another room is not spent. Only this book's header is
   * looked at, so the broker tickets of every other join cost no decoding here.
   */
  claim(token: string, room: string | undefined): ClaimResult {
    if (!token.startsWith(this.headerPrefix)) return { kind: 'not-seat' };
    const read = readHs256(token, SEAT_TYPE, (kid) => (kid === this.kid ? this.key : undefined));
    if (!read.ok) return { kind: 'refused', code: this.foreignRefusal(token) ?? 'TICKET_INVALID' };
    const { payload } = read;
    const { iss, srv, url, sub, idn, name, grt, jti, xms } = payload;
    if (
      iss !== SEAT_ISSUER ||
      typeof payload.room !== 'string' ||
      typeof sub !== 'string' ||
      typeof idn !== 'string' ||
      typeof jti !== 'string' ||
      typeof xms !== 'number'
    )
      return { kind: 'refused', code: 'TICKET_INVALID' };
    if (srv !== this.options.serverId || url !== this.options.url())
      return { kind: 'refused', code: 'TICKET_WRONG_SERVER' };
    const now = this.options.now();
    if (xms <= now) return { kind: 'refused', code: 'TICKET_EXPIRED' };
    if (room !== undefined && room !== payload.room) return { kind: 'refused', code: 'TICKET_WRONG_ROOM' };
    const seat = this.held.get(jti);
    if (seat === undefined) return { kind: 'refused', code: 'TICKET_REPLAYED' };
    this.release(jti, seat);
    return {
      kind: 'claimed',
      claims: {
        sessionId: sub,
        room: payload.room,
        name: typeof name === 'string' ? name : '',
        identity: idn,
        grants: grantsOf(grt),
      },
    };
  }

  /**
   * Why a token this book did not sign is refused when it is a seat confirmation: another
   * server's (its `srv` says so) or forged; undefined when it is no seat at all.
   */
  foreignRefusal(token: string): ErrorCode | undefined {
    const dot = token.indexOf('.');
    const header = dot > 0 ? decodeJson(token.slice(0, dot)) : undefined;
    if (header?.typ !== SEAT_TYPE) return undefined;
    const second = token.indexOf('.', dot + 1);
    const claimed = second > dot ? decodeJson(token.slice(dot + 1, second)) : undefined;
    return typeof claimed?.srv === 'string' && claimed.srv !== this.options.serverId
      ? 'TICKET_WRONG_SERVER'
      : 'TICKET_INVALID';
  }

  /**
   * A join without a seat (a broker ticket): refused when the seats held leave no room for it,
   * so reserved seats are never given away.
   */
  unreservedRefusal(room: string): ErrorCode | null {
    this.sweep(this.options.now());
    const { capacity, host } = this.options;
    if (host.peerCount + this.held.size >= capacity.maxPeers) return 'SERVER_FULL';
    if (host.size(room) + (this.byRoom.get(room) ?? 0) >= capacity.maxPeersPerRoom) return 'ROOM_FULL';
    return null;
  }

  private release(seatId: string, seat: Seat): void {
    this.held.delete(seatId);
    const left = (this.byRoom.get(seat.room) ?? 1) - 1;
    if (left <= 0) this.byRoom.delete(seat.room);
    else this.byRoom.set(seat.room, left);
  }

  /** Rooms held only by seats (not live yet): counted against maxRooms. */
  private newRooms(): number {
    let count = 0;
    for (const room of this.byRoom.keys()) if (this.options.host.size(room) === 0) count++;
    return count;
  }

  private sweep(now: number): void {
    for (const [seatId, seat] of this.held) {
      if (seat.expiresAt > now) break;
      this.release(seatId, seat);
    }
  }
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
