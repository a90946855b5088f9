// The assignment policy without sockets: affinity, placement, whole-room moves and
// their convergence, capacity/drain/health rules, and pin clean-up.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsherError } from '../../shared/errors.ts';
import { Assigner, type RoomMove } from './assignment.ts';
import { MemoryPinStore, type Pin, type PinStore } from './pin-store.ts';
import { type MediaServer, ServerRegistry } from './registry.ts';

const TTL_MS = 30_000;

function setup(options: { random?: () => number; pins?: PinStore } = {}) {
  let clock = 1_000_000;
  const registry = new ServerRegistry();
  const pins = options.pins ?? new MemoryPinStore();
  const moves: RoomMove[] = [];
  const assigner = new Assigner({
    registry,
    pins,
    now: () => clock,
    ticketTtlMs: TTL_MS,
    onMove: (move) => moves.push(move),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const add = (id: string, capacity: Partial<MediaServer['capacity']> = {}): MediaServer =>
    registry.add({
      id,
      url: `ws://127.0.0.1/${id}`,
      capacity: { maxRooms: 1000, maxPeersPerRoom: 50, maxPeers: 1000, ...capacity },
      draining: false,
      now: clock,
    });
  return {
    registry,
    pins,
    moves,
    assigner,
    add,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof UsherError && error.code === code);
}

/** Every operation waits a macrotask, so concurrent callers really interleave. */
class SlowPinStore implements PinStore {
  private readonly inner = new MemoryPinStore();
  private tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  async get(room: string) {
    await this.tick();
    return this.inner.get(room);
  }
  async set(room: string, pin: Pin) {
    await this.tick();
    return this.inner.set(room, pin);
  }
  async compareAndSet(room: string, expected: string | undefined, next: Pin) {
    await this.tick();
    return this.inner.compareAndSet(room, expected, next);
  }
  async deleteIf(room: string, serverId: string, assignedAtMax: number) {
    await this.tick();
    return this.inner.deleteIf(room, serverId, assignedAtMax);
  }
  async deleteByServer(serverId: string) {
    await this.tick();
    return this.inner.deleteByServer(serverId);
  }
  async keepAlive(serverId: string, rooms: readonly string[], now: number) {
    await this.tick();
    return this.inner.keepAlive(serverId, rooms, now);
  }
  size() {
    return this.inner.size();
  }
  entries() {
    return this.inner.entries();
  }
}

describe('assignment', () => {
  test('every member of a room gets the pinned server', async () => {
    const { add, assigner } = setup();
    add('a');
    add('b');
    const first = await assigner.assign('lobby');
    for (let i = 0; i < 5; i++) assert.equal((await assigner.assign('lobby')).id, first.id);
  });

  test('new rooms go to the least-loaded server, counting sessions sent since the last report', async () => {
    const { add, assigner, registry } = setup();
    const a = add('a');
    const b = add('b');
    const c = add('c', { maxPeers: 100 });
    registry.report(a, { peers: 500, rooms: 10, draining: false }, 0); // 0.5
    registry.report(b, { peers: 100, rooms: 10, draining: false }, 0); // 0.1
    registry.report(c, { peers: 20, rooms: 10, draining: false }, 0); // 0.2
    assert.equal((await assigner.assign('r1')).id, 'b');
    // b now carries 101/1000; still below c's 0.2, and each assignment adds to it.
    assert.equal((await assigner.assign('r2')).id, 'b');
    for (let i = 0; i < 148; i++) registry.assigned(b, 'r2', 1_000_000); // 250/1000 = 0.25
    assert.equal((await assigner.assign('r3')).id, 'c');
    registry.report(b, { peers: 100, rooms: 10, draining: false }, 1_000_000);
    assert.equal(b.pendingAssignments, 150, 'a report without the new peers keeps them counted');
    registry.report(b, { peers: 250, rooms: 10, draining: false }, 1_000_000);
    assert.equal(b.pendingAssignments, 0, 'a report that shows them retires them');
    registry.report(b, { peers: 0, rooms: 0, draining: false }, 1_000_000);
    assert.equal((await assigner.assign('r4')).id, 'b');
  });

  test('an exclude moves the whole room to one common new server', async () => {
    const { add, assigner, moves, pins } = setup();
    add('a');
    add('b');
    add('c');
    const old = await assigner.assign('lobby');
    const moved = await assigner.assign('lobby', [old.id]);
    assert.notEqual(moved.id, old.id);
    // The other members find the same server dead and follow, with or without the exclude.
    assert.equal((await assigner.assign('lobby', [old.id])).id, moved.id);
    assert.equal((await assigner.assign('lobby')).id, moved.id);
    assert.deepEqual(moves, [{ room: 'lobby', from: old.id, to: moved.id, cause: 'member' }]);
    assert.equal((await pins.get('lobby'))?.serverId, moved.id);
  });

  test('concurrent excludes from one room converge on one server (compare-and-set)', async () => {
    // 20 servers ⇒ power of two choices; a random source that differs per call makes
    // the racing requests pick different targets, so only the CAS can make them agree.
    let seed = 0;
    const random = () => {
      seed = (seed + 0.37) % 1;
      return seed;
    };
    const { add, assigner, moves, pins } = setup({ random, pins: new SlowPinStore() });
    for (let i = 0; i < 20; i++) add(`s${i}`);
    const old = await assigner.assign('lobby');
    const results = await Promise.all(Array.from({ length: 12 }, () => assigner.assign('lobby', [old.id])));
    const targets = new Set(results.map((server) => server.id));
    assert.equal(targets.size, 1, `members went to ${[...targets].join(', ')}`);
    assert.ok(!targets.has(old.id));
    assert.equal(moves.length, 1);
    assert.equal((await pins.get('lobby'))?.serverId, results[0]!.id);
  });

  test('late members still excluding the old server get the new pin, not a second move', async () => {
    const { add, assigner, moves } = setup();
    add('a');
    add('b');
    add('c');
    const old = await assigner.assign('lobby');
    const moved = await assigner.assign('lobby', [old.id]);
    for (let i = 0; i < 3; i++) assert.equal((await assigner.assign('lobby', [old.id])).id, moved.id);
    assert.equal(moves.length, 1);
  });

  test('the excluded server and the old one are never picked', async () => {
    const { add, assigner } = setup();
    add('a');
    add('b');
    add('c');
    const old = await assigner.assign('lobby'); // a
    const moved = await assigner.assign('lobby', [old.id, 'b']);
    assert.equal(moved.id, 'c');
    await rejectsWith(assigner.assign('lobby', ['a', 'b', 'c']), 'NO_SERVER_AVAILABLE');
  });

  test('full servers take no new rooms; a full pinned server is not split from its room', async () => {
    const { add, advance, assigner, registry } = setup();
    const a = add('a', { maxPeers: 2 });
    const b = add('b', { maxRooms: 1 });
    assert.equal((await assigner.assign('r1')).id, 'a');
    assert.equal((await assigner.assign('r1')).id, 'a');
    // a is full (2 sessions pending); r2 goes to b, and b has no room for a second room.
    assert.equal((await assigner.assign('r2')).id, 'b');
    await rejectsWith(assigner.assign('r3'), 'NO_SERVER_AVAILABLE');
    await rejectsWith(assigner.assign('r1'), 'NO_SERVER_AVAILABLE');
    registry.report(a, { peers: 1, rooms: 1, draining: false }, 1_000_000);
    // One of the two arrived, the other may still come: still full.
    await rejectsWith(assigner.assign('r1'), 'NO_SERVER_AVAILABLE');
    advance(TTL_MS); // its ticket expired: that seat is free again
    assert.equal((await assigner.assign('r1')).id, 'a');
    assert.equal(b.capacity.maxRooms, 1);
  });

  test('a draining server takes no new rooms and its pinned rooms move', async () => {
    const { add, assigner, moves, registry } = setup();
    const a = add('a');
    add('b');
    assert.equal((await assigner.assign('lobby')).id, 'a');
    registry.report(a, { peers: 1, rooms: 1, draining: true }, 0);
    assert.equal((await assigner.assign('other')).id, 'b');
    // Its clients come back excluding it: the reason is still the drain.
    assert.equal((await assigner.assign('lobby', ['a'])).id, 'b');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'drained' }]);
  });

  test('a lost server gets nothing, its pins go, and the re-placement is logged as a move', async () => {
    const { add, assigner, moves, pins, registry } = setup();
    const a = add('a');
    add('b');
    assert.equal((await assigner.assign('lobby')).id, 'a');
    assert.deepEqual(await assigner.serverLost(a), ['lobby']);
    assert.equal(a.healthy, false);
    assert.equal(registry.get('a'), undefined);
    assert.equal(await pins.get('lobby'), undefined);
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.equal((await assigner.assign('new-room')).id, 'b');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'dead' }]);
  });

  test('a pin left to an unhealthy server (lost mid-request) is moved', async () => {
    const { add, assigner, moves, pins, registry } = setup();
    const a = add('a');
    add('b');
    await pins.set('lobby', { serverId: 'a', assignedAt: 0 });
    registry.remove(a);
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'dead' }]);
  });

  test('no server at all ⇒ NO_SERVER_AVAILABLE', async () => {
    const { assigner } = setup();
    await rejectsWith(assigner.assign('lobby'), 'NO_SERVER_AVAILABLE');
  });

  test('power of two choices picks the less loaded of two eligible samples', async () => {
    const draws = [0.05, 0.95]; // servers 1 and 19 of 20
    const { add, assigner, registry } = setup({ random: () => draws.shift() ?? 0.5 });
    const servers = Array.from({ length: 20 }, (_, i) => add(`s${i}`));
    registry.report(servers[1]!, { peers: 600, rooms: 1, draining: false }, 0);
    registry.report(servers[19]!, { peers: 300, rooms: 1, draining: false }, 0);
    assert.equal((await assigner.assign('lobby')).id, 's19');
  });

  test('power of two choices falls back to a scan when samples are ineligible', async () => {
    const { add, assigner, registry } = setup({ random: () => 0 });
    const servers = Array.from({ length: 20 }, (_, i) => add(`s${i}`));
    registry.report(servers[0]!, { peers: 0, rooms: 0, draining: true }, 0);
    const picked = await assigner.assign('lobby');
    assert.equal(picked.id, 's1');
  });

  test('registration rebuilds pins; a room just moved to another live server stays there', async () => {
    const { add, assigner, pins, registry } = setup();
    const a = add('a');
    // Assigned to a just now: members are on their way there.
    await pins.set('held', { serverId: 'a', assignedAt: 1_000_000 });
    await pins.set('orphan', { serverId: 'gone', assignedAt: 0 });
    const b = add('b');
    registry.registered(b, ['held', 'orphan', 'fresh'], 3, 1_000_000);
    await assigner.serverRegistered(b, ['held', 'orphan', 'fresh']);
    assert.equal((await pins.get('held'))?.serverId, 'a');
    assert.equal((await pins.get('orphan'))?.serverId, 'b');
    assert.equal((await pins.get('fresh'))?.serverId, 'b');
    assert.deepEqual([...b.rooms].sort(), ['fresh', 'held', 'orphan']);
    registry.remove(a);
    const c = add('c');
    registry.registered(c, ['held'], 1, 1_000_000);
    await assigner.serverRegistered(c, ['held']);
    assert.equal((await pins.get('held'))?.serverId, 'c', 'a room on a lost server is taken over');
  });

  test('a closed room keeps its pin while a member may still be on its way', async () => {
    const { add, advance, assigner, pins } = setup();
    const a = add('a');
    await assigner.assign('lobby');
    await assigner.roomsChanged(a, ['lobby'], []);
    advance(TTL_MS - 1000);
    await assigner.assign('lobby'); // a latecomer, ticket valid for another TTL
    advance(5000);
    await assigner.roomsChanged(a, [], ['lobby']);
    assert.equal((await pins.get('lobby'))?.serverId, 'a', 'assigned 5 s ago: kept');
    advance(TTL_MS);
    await assigner.sweepUnconfirmed(a);
    assert.equal(await pins.get('lobby'), undefined, 'nobody came within the TTL: dropped');
    assert.equal(a.unconfirmedRooms, 0);
  });

  test('a room closed long after its last assignment is unpinned at once', async () => {
    const { add, advance, assigner, pins } = setup();
    const a = add('a');
    await assigner.assign('lobby');
    await assigner.roomsChanged(a, ['lobby'], []);
    advance(TTL_MS + 1);
    await assigner.roomsChanged(a, [], ['lobby']);
    assert.equal(await pins.get('lobby'), undefined);
  });

  test('a room assigned but never opened is unpinned after the TTL; an opened one is kept', async () => {
    const { add, advance, assigner, pins } = setup();
    const a = add('a');
    await assigner.assign('ghost');
    await assigner.assign('real');
    await assigner.roomsChanged(a, ['real'], []);
    advance(TTL_MS);
    await assigner.roomsChanged(a, [], []);
    assert.equal(await pins.get('ghost'), undefined);
    assert.equal((await pins.get('real'))?.serverId, 'a');
  });

  test('a store that fails mid-report leaves no room of the report out of the live index', async () => {
    class FailingPins extends MemoryPinStore {
      down = false;
      override async get(room: string): Promise<Pin | undefined> {
        if (this.down) throw new UsherError('INTERNAL', 'store down');
        return super.get(room);
      }
    }
    const pins = new FailingPins();
    const { add, assigner, registry } = setup({ pins });
    const a = add('a');
    add('b');
    pins.down = true;
    await assert.rejects(assigner.roomsChanged(a, ['first', 'second', 'third'], []), /store down/);
    for (const room of ['first', 'second', 'third'])
      assert.deepEqual(
        [...(registry.holders(room)?.keys() ?? [])].map((server) => server.id),
        ['a'],
        room,
      );
    // Back up and empty: a newcomer goes to the members' server, not to the emptier one.
    pins.down = false;
    assert.equal((await assigner.assign('third')).id, 'a');
  });

  test('a load report visits only the rooms whose TTL has passed, not every unconfirmed one', async () => {
    let reads = 0;
    class CountingPins extends MemoryPinStore {
      override async get(room: string): Promise<Pin | undefined> {
        reads++;
        return super.get(room);
      }
    }
    const { add, advance, assigner, pins } = setup({ pins: new CountingPins() });
    const a = add('a', { maxRooms: 10_000, maxPeers: 10_000 });
    for (let i = 0; i < 100; i++) await assigner.assign(`old-${i}`);
    advance(TTL_MS / 2);
    for (let i = 0; i < 1000; i++) await assigner.assign(`young-${i}`);
    await assigner.assign('old-7'); // assigned again: it waits a full TTL from now
    advance(TTL_MS / 2);
    reads = 0;
    await assigner.roomsChanged(a, [], []);
    assert.equal(reads, 99, 'the 99 expired rooms, none of the 1,001 within their TTL');
    assert.equal(await pins.get('old-0'), undefined);
    assert.equal((await pins.get('old-7'))?.serverId, 'a');
    assert.equal(a.unconfirmedRooms, 1001);
    reads = 0;
    await assigner.roomsChanged(a, [], []);
    assert.equal(reads, 0);
  });

  test('a store whose pins expire gets the live rooms renewed once per keepAliveMs, per server', async () => {
    const calls: Array<[string, string[], number]> = [];
    class ExpiringPins extends MemoryPinStore {
      readonly keepAliveMs = 1000;
      override async keepAlive(serverId: string, rooms: readonly string[], now: number): Promise<number> {
        calls.push([serverId, [...rooms], now]);
        return super.keepAlive(serverId, rooms, now);
      }
    }
    const { add, advance, assigner } = setup({ pins: new ExpiringPins() });
    const a = add('a');
    await assigner.roomsChanged(a, ['quiet'], []);
    advance(500);
    await assigner.roomsChanged(a, [], []);
    assert.deepEqual(
      calls,
      [['a', ['quiet'], 1_000_000]],
      'first report renews, the next within 1 s does not',
    );
    advance(500);
    await assigner.roomsChanged(a, [], []);
    assert.deepEqual(calls.at(-1), ['a', ['quiet'], 1_001_000]);
    assert.equal(calls.length, 2);
  });
});
