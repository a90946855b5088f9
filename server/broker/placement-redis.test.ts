// The placement rules that depend on the store, against a real redis-server: a Redis that
// comes back empty is re-pinned at once from the live rooms, and seats are exact (and new
// rooms spread) when every pin read and write is a real round trip.
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Assigner, type PinRepairCause } from './assignment.ts';
import { RedisPinStore } from './redis-pin-store.ts';
import { type MediaServer, ServerRegistry } from './registry.ts';
import { captureLogger, waitFor } from './testing/harness.ts';
import { startRedis, type TestRedis } from './testing/redis-server.ts';

const TTL_MS = 30_000;
let prefixes = 0;

async function openStore(t: TestContext, redis: TestRedis): Promise<RedisPinStore> {
  const store = new RedisPinStore({
    url: redis.url,
    logger: captureLogger().logger,
    keyPrefix: `placement${++prefixes}:`,
    ttlMs: 60_000,
  });
  t.after(() => store.close());
  assert.equal(await store.ready(5000), true, 'connected to redis');
  return store;
}

function fleet(pins: RedisPinStore, maxPeers = 1000) {
  const registry = new ServerRegistry({ pendingTtlMs: TTL_MS });
  const repairs: Array<[PinRepairCause, number]> = [];
  const assigner = new Assigner({
    registry,
    pins,
    now: Date.now,
    ticketTtlMs: TTL_MS,
    onRepair: (cause, count) => repairs.push([cause, count]),
  });
  const add = (id: string, live: string[] = []): MediaServer => {
    const server = registry.add({
      id,
      url: `ws://127.0.0.1/${id}`,
      capacity: { maxRooms: 1000, maxPeersPerRoom: 50, maxPeers },
      draining: false,
      now: Date.now(),
    });
    registry.registered(server, live, 0, Date.now());
    return server;
  };
  return { registry, assigner, add, repairs };
}

describe('placement over Redis', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  test('Redis restarted empty: every live room is re-pinned as soon as it is back', async (t) => {
    const pins = await openStore(t, redis);
    const { assigner, add, repairs } = fleet(pins);
    add('a', ['r1', 'r2']);
    add('b', ['r3']);
    pins.onReconnect(() => {
      void assigner.storeReconnected();
    });
    await redis.kill();
    await waitFor('the store to notice', () => !pins.reachable);
    await redis.restart();
    await waitFor(
      'the live rooms re-pinned',
      async () => pins.reachable && (await pins.size()) === 3,
      10_000,
    );
    assert.equal((await pins.get('r1'))?.serverId, 'a');
    assert.equal((await pins.get('r3'))?.serverId, 'b');
    assert.deepEqual(
      repairs.filter(([cause]) => cause === 'store-reconnect').reduce((sum, [, n]) => sum + n, 0),
      3,
    );
    // A newcomer in that window lands with the members anyway: the live room is consulted first.
    assert.equal((await assigner.assign('r2')).id, 'a');
  });

  test('36 concurrent requests against two servers of max-peers 20: none above 20', async (t) => {
    const pins = await openStore(t, redis);
    const { assigner, add } = fleet(pins, 20);
    add('a');
    add('b');
    const placed = await Promise.all(Array.from({ length: 36 }, (_, i) => assigner.assign(`room-${i % 9}`)));
    const counts = new Map<string, number>();
    for (const server of placed) counts.set(server.id, (counts.get(server.id) ?? 0) + 1);
    for (const [id, count] of counts) assert.ok(count <= 20, `${id} got ${count}`);
    assert.equal(placed.length, 36);
  });

  test('40 concurrent new rooms spread over 3 servers within ±30 %', async (t) => {
    const pins = await openStore(t, redis);
    const { assigner, add } = fleet(pins);
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
});
