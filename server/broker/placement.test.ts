// Placement when the broker's view, the pins and the servers' live rooms disagree: the live
// room wins over a stale pin, splits are resolved with a migrate to the loser, a member's
// exclude takes the members along, the warm-up holds requests, store reconnects re-pin, and
// seats are counted before any await (exact capacity, no herding). No sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsherError } from '../../shared/errors.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import {
  Assigner,
  type MigrateReason,
  type PinRepairCause,
  type RoomMove,
  type RoomSplit,
} from './assignment.ts';
import { MemoryPinStore, type Pin, type PinStore } from './pin-store.ts';
import { type MediaServer, ServerRegistry } from './registry.ts';
import { StallWatch } from './stall-watch.ts';
import { WarmUp } from './warm-up.ts';

const TTL_MS = 30_000;
const START = 1_000_000;

/** Every operation waits a macrotask, so concurrent callers really interleave (as over Redis). */
class SlowPinStore extends MemoryPinStore {
  private tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  override async get(room: string) {
    await this.tick();
    return super.get(room);
  }
  override async compareAndSet(room: string, expected: string | undefined, next: Pin) {
    await this.tick();
    return super.compareAndSet(room, expected, next);
  }
}

/** A memory store that says its pins outlive the broker (as Redis does). */
class DurablePinStore extends MemoryPinStore {
  readonly durable = true;
}

function setup(options: { pins?: PinStore; warmUp?: WarmUp; maxPeers?: number } = {}) {
  let clock = START;
  const registry = new ServerRegistry({ pendingTtlMs: TTL_MS });
  const pins = options.pins ?? new MemoryPinStore();
  const moves: RoomMove[] = [];
  const repairs: Array<[PinRepairCause, number]> = [];
  const splits: RoomSplit[] = [];
  const repaired: Array<[string, string]> = [];
  const migrations: Array<[string, string, MigrateReason]> = [];
  const assigner = new Assigner({
    registry,
    pins,
    now: () => clock,
    ticketTtlMs: TTL_MS,
    onMove: (move) => moves.push(move),
    onRepair: (cause, count) => repairs.push([cause, count]),
    onSplit: (split) => splits.push(split),
    onSplitRepaired: (room, server) => repaired.push([room, server]),
    migrate: (server, room, reason) => migrations.push([server.id, room, reason]),
    ...(options.warmUp === undefined ? {} : { warmUp: options.warmUp }),
  });
  const add = (id: string, live: string[] = []): MediaServer => {
    const server = registry.add({
      id,
      url: `ws://127.0.0.1/${id}`,
      capacity: { maxRooms: 1000, maxPeersPerRoom: 50, maxPeers: options.maxPeers ?? 1000 },
      draining: false,
      now: clock,
    });
    registry.registered(server, live, 0, clock);
    options.warmUp?.registered(id);
    return server;
  };
  return {
    registry,
    pins,
    assigner,
    add,
    moves,
    repairs,
    splits,
    repaired,
    migrations,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof UsherError && error.code === code);
}

describe('the live room is the truth', () => {
  test('a room live on a server goes there, whatever a stale pin says, and the pin is repaired', async () => {
    const { add, assigner, pins, repairs, moves } = setup();
    add('a');
    add('b', ['lobby']);
    await pins.set('lobby', { serverId: 'a', assignedAt: START - TTL_MS - 1 });
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.equal((await pins.get('lobby'))?.serverId, 'b');
    assert.deepEqual(repairs, [['live-elsewhere', 1]]);
    assert.deepEqual(moves, [], 'the members never moved');
    // A pin naming a server nobody knows (outside a warm-up) is just as stale.
    await pins.set('lobby', { serverId: 'gone', assignedAt: START });
    assert.equal((await assigner.assign('lobby')).id, 'b');
    // And a missing pin (expired, or a store that came back empty) is put back.
    add('c', ['quiet']);
    assert.equal((await assigner.assign('quiet')).id, 'c');
    assert.deepEqual(repairs.at(-1), ['missing', 1]);
    assert.equal((await pins.get('quiet'))?.serverId, 'c');
  });

  test('the agreeing case costs one store round trip and no repair', async () => {
    let calls = 0;
    class CountingPins extends MemoryPinStore {
      override async get(room: string) {
        calls++;
        return super.get(room);
      }
      override async compareAndSet(room: string, expected: string | undefined, next: Pin) {
        calls++;
        return super.compareAndSet(room, expected, next);
      }
    }
    const { add, assigner, pins, repairs } = setup({ pins: new CountingPins() });
    add('a', ['lobby']);
    await pins.set('lobby', { serverId: 'a', assignedAt: START });
    calls = 0;
    assert.equal((await assigner.assign('lobby')).id, 'a');
    assert.equal(calls, 1);
    assert.deepEqual(repairs, []);
  });

  test('a pin just moved to another live server is a move under way: newcomers follow it, the members are told', async () => {
    const { add, assigner, pins, migrations, moves } = setup();
    add('a', ['lobby']);
    add('b');
    await pins.set('lobby', { serverId: 'b', assignedAt: START - 1000 });
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.deepEqual(migrations, [['a', 'lobby', 'moved']]);
    assert.deepEqual(moves, [], 'another broker moved it, and counted it');
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.equal(migrations.length, 1, 'told once');
  });

  test('a split: the pinned server wins, the loser is told to migrate, and its close repairs it', async () => {
    const { add, assigner, pins, registry, splits, repaired, migrations, moves } = setup();
    const a = add('a', ['lobby']);
    add('b', ['lobby']);
    await pins.set('lobby', { serverId: 'b', assignedAt: START });
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.deepEqual(splits, [{ room: 'lobby', servers: ['a', 'b'], winner: 'b' }]);
    assert.deepEqual(migrations, [['a', 'lobby', 'split']]);
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'split' }]);
    // Detected once: the loser no longer counts as the room's holder.
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.equal(splits.length, 1);
    assert.deepEqual(
      [...(registry.holders('lobby')?.keys() ?? [])].map((s) => s.id),
      ['b'],
    );
    await assigner.roomsChanged(a, [], ['lobby']);
    assert.deepEqual(repaired, [['lobby', 'a']]);
  });

  test('a split without a usable pin: the server holding the room longest wins, then the lowest id', async () => {
    const { add, advance, assigner, registry, splits, migrations, pins } = setup();
    const late = add('a');
    add('z', ['lobby']);
    advance(1000);
    registry.roomOpened(late, 'lobby', START + 1000);
    assert.equal((await assigner.assign('lobby')).id, 'z');
    assert.deepEqual(splits, [{ room: 'lobby', servers: ['z', 'a'], winner: 'z' }]);
    assert.deepEqual(migrations, [['a', 'lobby', 'split']]);
    assert.equal((await pins.get('lobby'))?.serverId, 'z');

    const tie = setup();
    tie.add('n', ['room']);
    tie.add('m', ['room']);
    assert.equal((await tie.assigner.assign('room')).id, 'm');
  });

  test('a split found in a load report is repaired without waiting for a request', async () => {
    const { add, assigner, pins, splits, migrations } = setup();
    add('a', ['lobby']);
    const b = add('b');
    await pins.set('lobby', { serverId: 'a', assignedAt: START });
    await assigner.roomsChanged(b, ['lobby'], []);
    assert.deepEqual(splits, [{ room: 'lobby', servers: ['a', 'b'], winner: 'a' }]);
    assert.deepEqual(migrations, [['b', 'lobby', 'split']]);
  });

  test('a registration that finds the room live elsewhere too resolves the split to the pin', async () => {
    const { add, assigner, pins, splits, migrations, repairs } = setup();
    add('a', ['lobby']);
    await pins.set('lobby', { serverId: 'a', assignedAt: START });
    const b = add('b', ['lobby', 'own']);
    await assigner.serverRegistered(b, ['lobby', 'own']);
    assert.deepEqual(splits, [{ room: 'lobby', servers: ['a', 'b'], winner: 'a' }]);
    assert.deepEqual(migrations, [['b', 'lobby', 'split']]);
    assert.equal((await pins.get('own'))?.serverId, 'b');
    assert.deepEqual(repairs, [['registration', 1]]);
  });

  test("a member's exclude of a live room's healthy server moves the pin and tells that server", async () => {
    const { add, assigner, pins, registry, migrations, moves, splits } = setup();
    const a = add('a', ['lobby']);
    const b = add('b');
    await pins.set('lobby', { serverId: 'a', assignedAt: START });
    assert.equal((await assigner.assign('lobby', ['a'])).id, 'b');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'member' }]);
    assert.deepEqual(migrations, [['a', 'lobby', 'moved']]);
    // A newcomer without exclude follows the move, not the members still leaving a.
    assert.equal((await assigner.assign('lobby')).id, 'b');
    // The members arrive on b while a has not reported the room closed yet: no split.
    await assigner.roomsChanged(b, ['lobby'], []);
    assert.equal((await assigner.assign('lobby')).id, 'b');
    assert.deepEqual(splits, []);
    await assigner.roomsChanged(a, [], ['lobby']);
    assert.equal(registry.soleHolder('lobby')?.id, 'b');
    assert.equal(migrations.length, 1);
  });

  test('a pin on a healthy server the member excludes moves even before the room is reported live', async () => {
    const { add, assigner, migrations, moves } = setup();
    const a = add('a');
    add('b');
    assert.equal((await assigner.assign('lobby')).id, 'a');
    assert.equal((await assigner.assign('lobby', ['a'])).id, 'b');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'a', to: 'b', cause: 'member' }]);
    assert.deepEqual(migrations, [['a', 'lobby', 'moved']]);
    // Members that were on their way to a arrive after the move: they are told too.
    await assigner.roomsChanged(a, ['lobby'], []);
    assert.deepEqual(migrations, [
      ['a', 'lobby', 'moved'],
      ['a', 'lobby', 'moved'],
    ]);
    assert.equal((await assigner.assign('lobby')).id, 'b');
  });

  test('a full live server refuses rather than splitting its room', async () => {
    const { add, assigner, registry } = setup({ maxPeers: 2 });
    const a = add('a', ['lobby']);
    add('b');
    registry.report(a, { peers: 2, rooms: 1, draining: false }, START);
    await rejectsWith(assigner.assign('lobby'), 'NO_SERVER_AVAILABLE');
  });
});

describe('warm-up', () => {
  test('a request for a room pinned to a server not yet registered waits for it, then goes there', async () => {
    const warmUp = new WarmUp({ durationMs: 60_000 });
    warmUp.start();
    const { add, assigner, pins, moves } = setup({ warmUp });
    add('other');
    await pins.set('lobby', { serverId: 'back', assignedAt: START - TTL_MS * 10 });
    let settled = false;
    const pending = assigner.assign('lobby').finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'held during the warm-up');
    add('back', ['lobby']);
    assert.equal((await pending).id, 'back');
    assert.deepEqual(moves, []);
    warmUp.end();
  });

  test('at the warm-up end a server that never came back is lost: the room moves', async () => {
    const warmUp = new WarmUp({ durationMs: 50 });
    warmUp.start();
    const { add, assigner, pins, moves } = setup({ warmUp });
    add('other');
    await pins.set('lobby', { serverId: 'never', assignedAt: START });
    const startedAt = Date.now();
    assert.equal((await assigner.assign('lobby')).id, 'other');
    assert.ok(Date.now() - startedAt >= 40, 'released by the warm-up end');
    assert.deepEqual(moves, [{ room: 'lobby', from: 'never', to: 'other', cause: 'dead' }]);
    assert.equal(warmUp.active, false);
  });

  test('memory pins: an unknown room waits for the warm-up (or a registration holding it); a durable store places it at once', async () => {
    const warmUp = new WarmUp({ durationMs: 60_000 });
    warmUp.start();
    const memory = setup({ warmUp });
    memory.add('a');
    const placed: { server?: MediaServer } = {};
    const pending = memory.assigner.assign('lobby').then((server) => {
      placed.server = server;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(placed.server === undefined, 'held during the warm-up');
    memory.add('b', ['lobby']); // its server re-registers: the room goes to it
    await pending;
    assert.equal((placed.server as MediaServer | undefined)?.id, 'b');
    const fresh = memory.assigner.assign('brand-new');
    warmUp.end();
    assert.ok(['a', 'b'].includes((await fresh).id));

    const durableWarmUp = new WarmUp({ durationMs: 60_000 });
    durableWarmUp.start();
    const durable = setup({ warmUp: durableWarmUp, pins: new DurablePinStore() });
    durable.add('a');
    assert.equal((await durable.assigner.assign('brand-new')).id, 'a');
    durableWarmUp.end();
  });

  test('a server lost during the warm-up keeps its pins: it may be on its way back', async () => {
    const warmUp = new WarmUp({ durationMs: 60_000 });
    warmUp.start();
    const { add, assigner, pins, moves } = setup({ warmUp });
    const a = add('a', ['lobby']);
    add('b');
    assert.equal((await assigner.assign('lobby')).id, 'a');
    await assigner.serverLost(a, 'dead');
    assert.equal((await pins.get('lobby'))?.serverId, 'a');
    const pending = assigner.assign('lobby');
    add('a', ['lobby']); // its control socket reconnects
    assert.equal((await pending).id, 'a');
    assert.deepEqual(moves, []);
    warmUp.end();
  });
});

describe('store reconnect', () => {
  test('re-pins every live room at once, counted as store-reconnect repairs', async () => {
    const { add, assigner, pins, repairs } = setup();
    add('a', ['r1', 'r2']);
    add('b', ['r3']);
    add('c');
    // The store came back empty.
    assert.equal(await pins.size(), 0);
    await assigner.storeReconnected();
    assert.deepEqual((await pins.entries()).map(([room, pin]) => [room, pin.serverId]).sort(), [
      ['r1', 'a'],
      ['r2', 'a'],
      ['r3', 'b'],
    ]);
    assert.deepEqual(repairs, [
      ['store-reconnect', 2],
      ['store-reconnect', 1],
    ]);
  });
});

describe('exact capacity, no herding', () => {
  test('36 concurrent requests against two servers of max-peers 20: all placed, none above 20', async () => {
    const { add, assigner } = setup({ pins: new SlowPinStore(), maxPeers: 20 });
    add('a');
    add('b');
    const placed = await Promise.all(Array.from({ length: 36 }, (_, i) => assigner.assign(`room-${i % 9}`)));
    const counts = new Map<string, number>();
    for (const server of placed) counts.set(server.id, (counts.get(server.id) ?? 0) + 1);
    for (const [id, count] of counts) assert.ok(count <= 20, `${id} got ${count}`);
  });

  test('36 concurrent requests for one room on a server of max-peers 20: 20 seats, the rest refused, never split', async () => {
    const { add, assigner } = setup({ pins: new SlowPinStore(), maxPeers: 20 });
    add('a', ['lobby']);
    add('b');
    const results = await Promise.allSettled(Array.from({ length: 36 }, () => assigner.assign('lobby')));
    const placed = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.id);
    assert.equal(placed.length, 20);
    assert.deepEqual(new Set(placed), new Set(['a']));
    for (const result of results)
      if (result.status === 'rejected')
        assert.equal((result.reason as UsherError).code, 'NO_SERVER_AVAILABLE');
  });

  test('40 concurrent new rooms spread over 3 servers within ±30 %', async () => {
    const { add, assigner } = setup({ pins: new SlowPinStore() });
    add('a');
    add('b');
    add('c');
    const placed = await Promise.all(Array.from({ length: 40 }, (_, i) => assigner.assign(`new-${i}`)));
    const counts = new Map<string, number>();
    for (const server of placed) counts.set(server.id, (counts.get(server.id) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const [id, count] of counts)
      assert.ok(Math.abs(count - 40 / 3) <= (40 / 3) * 0.3, `${id} got ${count} of 40`);
  });

  test('a load report does not erase sessions still on their way; a lost compare-and-set gives its seat back', async () => {
    const { add, advance, assigner, registry } = setup({ maxPeers: 3 });
    const a = add('a', ['lobby']);
    for (let i = 0; i < 3; i++) await assigner.assign('lobby');
    registry.report(a, { peers: 1, rooms: 1, draining: false }, START);
    assert.equal(a.pendingAssignments, 2, 'one arrived, two on their way');
    await rejectsWith(assigner.assign('lobby'), 'NO_SERVER_AVAILABLE');
    advance(TTL_MS);
    assert.equal((await assigner.assign('lobby')).id, 'a', 'tickets of the absent expired');

    const racing = setup({ pins: new SlowPinStore() });
    const b = racing.add('b');
    await Promise.all(Array.from({ length: 12 }, () => racing.assigner.assign('same-new-room')));
    assert.equal(b.pendingAssignments, 12, 'the losers of the first CAS released and re-reserved');
    assert.equal(b.unconfirmedRooms, 1);
  });
});

describe('WarmUp', () => {
  test('waiters for a server wake on its registration; the rest at the end', async () => {
    const warmUp = new WarmUp({ durationMs: 60_000 });
    warmUp.start();
    const woken: string[] = [];
    void warmUp.waitFor('a').then(() => woken.push('a'));
    void warmUp.waitFor('b').then(() => woken.push('b'));
    void warmUp.waitFor(undefined).then(() => woken.push('any'));
    warmUp.registered('a');
    await waitUntil(() => woken.length === 2, 'the registration to wake two');
    assert.deepEqual(woken.sort(), ['a', 'any']);
    warmUp.end();
    await waitUntil(() => woken.length === 3, 'the end to wake the rest');
    assert.equal(warmUp.active, false);
    await warmUp.waitFor('c'); // no warm-up: at once
  });
});

describe('StallWatch', () => {
  test('a clock jump past the threshold is a stall, noticed once, forgiven for the grace period', () => {
    let clock = START;
    const stalls: number[] = [];
    const watch = new StallWatch({
      tickMs: 100,
      thresholdMs: 1000,
      graceMs: 3000,
      now: () => clock,
      onStall: (ms) => stalls.push(ms),
    });
    try {
      clock += 500;
      assert.equal(watch.stalled(), false, 'late by less than the threshold');
      clock += 5000; // the process was stopped
      assert.equal(watch.stalled(), true);
      assert.equal(watch.stalled(), true, 'still within the grace period');
      assert.deepEqual(stalls, [5000]);
      let forgiven = true;
      for (let step = 0; step < 31; step++) {
        clock += 100; // the loop runs again: ticks on time
        forgiven = watch.stalled();
      }
      assert.equal(forgiven, false, 'a silence after the grace period counts again');
      assert.equal(stalls.length, 1);
    } finally {
      watch.stop();
    }
  });
});
