// The behaviour every PinStore owes the assignment policy, as tests any implementation
// runs (memory in pin-store.test.ts, Redis in redis-pin-store.test.ts).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { PinStore } from '../pin-store.ts';

/** Registers the contract's tests; `make` returns a fresh, empty store for each. */
export function pinStoreContract(make: (t: TestContext) => Promise<PinStore>): void {
  test('an unknown room has no pin', async (t) => {
    const pins = await make(t);
    assert.equal(await pins.get('nowhere'), undefined);
    assert.equal(await pins.size(), 0);
    assert.deepEqual(await pins.entries(), []);
  });

  test('compare-and-set only replaces the expected pin', async (t) => {
    const pins = await make(t);
    assert.equal(await pins.compareAndSet('r', undefined, { serverId: 'a', assignedAt: 1 }), true);
    assert.equal(await pins.compareAndSet('r', undefined, { serverId: 'b', assignedAt: 2 }), false);
    assert.equal(await pins.compareAndSet('r', 'b', { serverId: 'c', assignedAt: 2 }), false);
    assert.equal(await pins.compareAndSet('r', 'a', { serverId: 'c', assignedAt: 3 }), true);
    assert.deepEqual(await pins.get('r'), { serverId: 'c', assignedAt: 3 });
    // Renewing a pin in place (same server, later time) is a compare-and-set too.
    assert.equal(await pins.compareAndSet('r', 'c', { serverId: 'c', assignedAt: 4 }), true);
    assert.deepEqual(await pins.get('r'), { serverId: 'c', assignedAt: 4 });
  });

  test('concurrent compare-and-sets from one value: exactly one wins, and every reader sees it', async (t) => {
    const pins = await make(t);
    await pins.set('r', { serverId: 'dead', assignedAt: 0 });
    const targets = Array.from({ length: 12 }, (_, index) => `s${index}`);
    const results = await Promise.all(
      targets.map((serverId) => pins.compareAndSet('r', 'dead', { serverId, assignedAt: 1 })),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await pins.get('r'))?.serverId, targets[results.indexOf(true)]);
  });

  test('deleteByServer removes exactly that server’s rooms, after moves too', async (t) => {
    const pins = await make(t);
    await pins.set('r1', { serverId: 'a', assignedAt: 0 });
    await pins.set('r2', { serverId: 'a', assignedAt: 0 });
    await pins.set('r3', { serverId: 'b', assignedAt: 0 });
    await pins.set('r2', { serverId: 'b', assignedAt: 1 });
    assert.deepEqual(await pins.deleteByServer('a'), ['r1']);
    assert.deepEqual((await pins.deleteByServer('b')).sort(), ['r2', 'r3']);
    assert.equal(await pins.size(), 0);
    assert.deepEqual(await pins.deleteByServer('b'), []);
  });

  test('deleteIf respects server and last assignment time', async (t) => {
    const pins = await make(t);
    await pins.set('r', { serverId: 'a', assignedAt: 100 });
    assert.equal(await pins.deleteIf('r', 'b', 200), false);
    assert.equal(await pins.deleteIf('r', 'a', 99), false);
    assert.equal(await pins.deleteIf('r', 'a', 100), true);
    assert.equal(await pins.get('r'), undefined);
    assert.equal(await pins.deleteIf('r', 'a', 100), false);
    assert.deepEqual(await pins.deleteByServer('a'), []);
  });

  test('size and entries list every pin', async (t) => {
    const pins = await make(t);
    await pins.set('r1', { serverId: 'a', assignedAt: 1 });
    await pins.set('r2', { serverId: 'b', assignedAt: 2 });
    assert.equal(await pins.size(), 2);
    const entries = (await pins.entries()).sort(([x], [y]) => x.localeCompare(y));
    assert.deepEqual(entries, [
      ['r1', { serverId: 'a', assignedAt: 1 }],
      ['r2', { serverId: 'b', assignedAt: 2 }],
    ]);
  });

  test('keepAlive pins live rooms that lost their pin, and leaves rooms pinned elsewhere', async (t) => {
    const pins = await make(t);
    await pins.set('mine', { serverId: 'a', assignedAt: 1 });
    await pins.set('moved', { serverId: 'b', assignedAt: 2 });
    assert.equal(await pins.keepAlive('a', ['mine', 'moved', 'orphan'], 50), 1, 'it pinned one room');
    assert.deepEqual(await pins.get('mine'), { serverId: 'a', assignedAt: 1 });
    assert.deepEqual(await pins.get('moved'), { serverId: 'b', assignedAt: 2 });
    assert.deepEqual(await pins.get('orphan'), { serverId: 'a', assignedAt: 50 });
    assert.deepEqual((await pins.deleteByServer('a')).sort(), ['mine', 'orphan']);
    assert.equal(await pins.keepAlive('c', [], 60), 0); // nothing live: a no-op
    assert.equal(await pins.size(), 1);
  });
}
