// Room → media server pins behind a small async interface, so the in-memory store of a
// single broker can be swapped for a shared one (Redis) when several brokers run.

/** Which server a room lives on, and when a session was last sent there. */
export interface Pin {
  readonly serverId: string;
  /** Epoch ms of the last assignment to this room (a member may still be on its way). */
  readonly assignedAt: number;
}

export interface PinStore {
  get(room: string): Promise<Pin | undefined>;
  set(room: string, pin: Pin): Promise<void>;
  /**
   * Replace the pin only while it still names `expected` (undefined: only while the room
   * is unpinned). This is what makes concurrent failovers of one room converge: the
   * first writer wins, the others re-read and follow it.
   */
  compareAndSet(room: string, expected: string | undefined, next: Pin): Promise<boolean>;
  /** Delete the pin only if it names serverId and was last assigned at or before assignedAtMax. */
  deleteIf(room: string, serverId: string, assignedAtMax: number): Promise<boolean>;
  /** Delete every pin naming serverId; returns the rooms that were pinned there. */
  deleteByServer(serverId: string): Promise<string[]>;
  /**
   * The rooms are live on serverId: renew their pins, and pin those that have none (expired,
   * or the store was emptied) to it. Rooms pinned to another server are left alone. Returns
   * how many rooms it pinned.
   */
  keepAlive(serverId: string, rooms: readonly string[], now: number): Promise<number>;
  /** Pins not renewed by an assignment or keepAlive expire: call keepAlive this often. Unset: never expire. */
  readonly keepAliveMs?: number;
  /**
   * Pins outlive the broker process (a shared store): after a restart, a room without a pin
   * is new, not one whose server has yet to re-register. Unset: false.
   */
  readonly durable?: boolean;
  /** False while the store cannot be reached. Unset: always reachable. */
  readonly reachable?: boolean;
  /** Calls `listener` each time the store is reachable again after an outage (it may have lost pins). */
  onReconnect?(listener: () => void): void;
  /**
   * Calls `listener` for each failed store command. A `timeout` may still have been carried out
   * (the reply came late, or the broker's own event loop was stalled past the deadline): a write
   * that timed out can have pinned a room without the broker knowing.
   */
  onFailure?(listener: (op: string, kind: StoreFailureKind) => void): void;
  size(): Promise<number>;
  entries(): Promise<Array<[room: string, pin: Pin]>>;
}

/** Why a store command failed: no answer in time, no connection, or an error reply. */
export type StoreFailureKind = 'timeout' | 'unavailable' | 'error';

/** The embedded store: one broker, nothing to install. */
export class MemoryPinStore implements PinStore {
  private readonly pins = new Map<string, Pin>();
  /** Reverse index so losing a server costs O(its rooms), not O(all rooms). */
  private readonly byServer = new Map<string, Set<string>>();

  async get(room: string): Promise<Pin | undefined> {
    return this.pins.get(room);
  }

  async set(room: string, pin: Pin): Promise<void> {
    this.write(room, pin);
  }

  async compareAndSet(room: string, expected: string | undefined, next: Pin): Promise<boolean> {
    if (this.pins.get(room)?.serverId !== expected) return false;
    this.write(room, next);
    return true;
  }

  async deleteIf(room: string, serverId: string, assignedAtMax: number): Promise<boolean> {
    const pin = this.pins.get(room);
    if (pin === undefined || pin.serverId !== serverId || pin.assignedAt > assignedAtMax) return false;
    this.remove(room, serverId);
    return true;
  }

  async deleteByServer(serverId: string): Promise<string[]> {
    const rooms = this.byServer.get(serverId);
    if (rooms === undefined) return [];
    this.byServer.delete(serverId);
    for (const room of rooms) this.pins.delete(room);
    return [...rooms];
  }

  async keepAlive(serverId: string, rooms: readonly string[], now: number): Promise<number> {
    let pinned = 0;
    for (const room of rooms) {
      if (this.pins.has(room)) continue;
      this.write(room, { serverId, assignedAt: now });
      pinned++;
    }
    return pinned;
  }

  async size(): Promise<number> {
    return this.pins.size;
  }

  async entries(): Promise<Array<[string, Pin]>> {
    return [...this.pins];
  }

  private write(room: string, pin: Pin): void {
    const previous = this.pins.get(room);
    if (previous !== undefined && previous.serverId !== pin.serverId) this.unindex(room, previous.serverId);
    this.pins.set(room, pin);
    let rooms = this.byServer.get(pin.serverId);
    if (rooms === undefined) {
      rooms = new Set();
      this.byServer.set(pin.serverId, rooms);
    }
    rooms.add(room);
  }

  private remove(room: string, serverId: string): void {
    this.pins.delete(room);
    this.unindex(room, serverId);
  }

  private unindex(room: string, serverId: string): void {
    const rooms = this.byServer.get(serverId);
    if (rooms === undefined) return;
    rooms.delete(room);
    if (rooms.size === 0) this.byServer.delete(serverId);
  }
}
