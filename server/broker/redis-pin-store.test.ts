// The Redis pin store against a real redis-server: the PinStore contract, compare-and-set
// races between two connections, TTLs and their renewal, outages, and configuration errors.
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { UsherError } from '../../shared/errors.ts';
import { UsherConfigError } from '../common/config-error.ts';
import { RedisPinStore, type RedisPinStoreOptions } from './redis-pin-store.ts';
import { captureLogger, waitFor } from './testing/harness.ts';
import { pinStoreContract } from './testing/pin-store-contract.ts';
import { startRedis, type TestRedis } from './testing/redis-server.ts';

const TTL_MS = 10_000;
let prefixes = 0;

/** A connected store on `redis` with a key prefix of its own (or the one given), closed after the test. */
async function openStore(
  t: TestContext,
  redis: TestRedis,
  options: Partial<RedisPinStoreOptions> = {},
): Promise<RedisPinStore> {
  const store = new RedisPinStore({
    url: redis.url,
    logger: captureLogger().logger,
    keyPrefix: `t${++prefixes}:`,
    ttlMs: TTL_MS,
    ...options,
  });
  t.after(() => store.close());
  assert.equal(await store.ready(5000), true, 'connected to redis');
  return store;
}

/** A plain client to look at what the store wrote. */
function rawClient(t: TestContext, redis: TestRedis): Redis {
  const client = new Redis(redis.url, { lazyConnect: false });
  t.after(() => client.disconnect());
  return client;
}

function isInternal(error: unknown): boolean {
  return error instanceof UsherError && error.code === 'INTERNAL' && error.cause instanceof Error;
}

describe('RedisPinStore', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  describe('contract', () => {
    pinStoreContract((t) => openStore(t, redis));
  });

  test('two connections racing compare-and-sets on many rooms converge on one pin per room', async (t) => {
    const prefix = `race${++prefixes}:`;
    const stores = [
      await openStore(t, redis, { keyPrefix: prefix }),
      await openStore(t, redis, { keyPrefix: prefix }),
    ];
    const rooms = Array.from({ length: 40 }, (_, index) => `room-${index}`);
    // Six members per room, alternating between the two brokers' connections, each with its own pick.
    const race = (room: string, expected: string | undefined, pick: string) =>
      Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          stores[index % 2]!.compareAndSet(room, expected, {
            serverId: `${pick}${index}`,
            assignedAt: index,
          }),
        ),
      );
    for (const outcome of await Promise.all(rooms.map((room) => race(room, undefined, 'first'))))
      assert.equal(outcome.filter(Boolean).length, 1, 'one first placement per room');
    const placed = await Promise.all(rooms.map((room) => stores[0]!.get(room)));
    assert.deepEqual(await Promise.all(rooms.map((room) => stores[1]!.get(room))), placed);
    // Failover: every room's server is excluded at once through both connections.
    const moves = await Promise.all(rooms.map((room, index) => race(room, placed[index]!.serverId, 'next')));
    for (const outcome of moves) assert.equal(outcome.filter(Boolean).length, 1, 'one move per room');
    const moved = await Promise.all(rooms.map((room) => stores[1]!.get(room)));
    assert.deepEqual(await Promise.all(rooms.map((room) => stores[0]!.get(room))), moved);
    // The reverse index followed the moves: each room is deleted with the server it is on now.
    const deleted = await Promise.all(
      [...new Set(moved.map((pin) => pin!.serverId))].map((id) => stores[0]!.deleteByServer(id)),
    );
    assert.deepEqual(deleted.flat().sort(), [...rooms].sort());
    assert.equal(await stores[1]!.size(), 0);
  });

  test('pins expire unless renewed; assignments and keepAlive renew them', async (t) => {
    const store = await openStore(t, redis, { keyPrefix: 'ttl:' });
    const raw = rawClient(t, redis);
    await store.compareAndSet('r', undefined, { serverId: 'a', assignedAt: 1 });
    const ttl = await raw.pttl('ttl:pin:r');
    assert.ok(ttl > TTL_MS - 2000 && ttl <= TTL_MS, `pin TTL ${ttl}`);
    assert.ok((await raw.pttl('ttl:server:a')) > 0, 'the server index expires too');

    await raw.pexpire('ttl:pin:r', 50);
    await store.compareAndSet('r', 'a', { serverId: 'a', assignedAt: 2 });
    assert.ok((await raw.pttl('ttl:pin:r')) > TTL_MS - 2000, 'an assignment renews the pin');

    await raw.pexpire('ttl:pin:r', 50);
    await store.keepAlive('a', ['r'], 3);
    assert.ok((await raw.pttl('ttl:pin:r')) > TTL_MS - 2000, 'keepAlive renews the pin');
    assert.deepEqual(await store.get('r'), { serverId: 'a', assignedAt: 2 }, 'keepAlive keeps assignedAt');

    await raw.pexpire('ttl:pin:r', 1);
    await waitFor('the pin to expire', async () => (await store.get('r')) === undefined);
    assert.equal(await store.size(), 0);
    // Nobody renewed it, and the server's index no longer names it once pruned.
    await store.keepAlive('a', [], 4);
    assert.deepEqual(await raw.smembers('ttl:server:a'), []);
    assert.equal(store.keepAliveMs, Math.floor(TTL_MS / 3));
  });

  test('deleteByServer skips rooms that expired or moved to another server through another broker', async (t) => {
    const prefix = `del${++prefixes}:`;
    const mine = await openStore(t, redis, { keyPrefix: prefix });
    const theirs = await openStore(t, redis, { keyPrefix: prefix });
    const raw = rawClient(t, redis);
    await mine.set('expired', { serverId: 'a', assignedAt: 0 });
    await mine.set('moved', { serverId: 'a', assignedAt: 0 });
    await mine.set('kept', { serverId: 'a', assignedAt: 0 });
    await raw.pexpire(`${prefix}pin:expired`, 1);
    await waitFor('the pin to expire', async () => (await mine.get('expired')) === undefined);
    assert.equal(await theirs.compareAndSet('moved', 'a', { serverId: 'b', assignedAt: 1 }), true);
    // A room re-pinned to a by another broker after it expired is a's again.
    assert.deepEqual(await mine.deleteByServer('a'), ['kept']);
    assert.deepEqual(await theirs.get('moved'), { serverId: 'b', assignedAt: 1 });
  });

  test('stores with different key prefixes do not see each other', async (t) => {
    const one = await openStore(t, redis);
    const two = await openStore(t, redis);
    await one.set('r', { serverId: 'a', assignedAt: 0 });
    assert.equal(await two.get('r'), undefined);
    assert.equal(await two.size(), 0);
    assert.deepEqual(await two.deleteByServer('a'), []);
    assert.deepEqual(await one.get('r'), { serverId: 'a', assignedAt: 0 });
  });

  test('configuration errors are UsherConfigError', () => {
    const { logger } = captureLogger();
    assert.throws(() => new RedisPinStore({ url: 'http://127.0.0.1:6379', logger }), UsherConfigError);
    assert.throws(() => new RedisPinStore({ url: 'not a url', logger }), UsherConfigError);
    assert.throws(() => new RedisPinStore({ url: redis.url, logger, ttlMs: 500 }), UsherConfigError);
  });
});

describe('RedisPinStore when Redis fails', () => {
  test('a stopped Redis fails every call at once with INTERNAL; the store recovers when it is back', async (t) => {
    const redis = await startRedis(t);
    const { logger, records } = captureLogger();
    const store = new RedisPinStore({ url: redis.url, logger, ttlMs: TTL_MS });
    t.after(() => store.close());
    const failures: string[] = [];
    store.onFailure((op, kind) => failures.push(`${op}:${kind}`));
    assert.equal(await store.ready(5000), true);
    await store.set('r', { serverId: 'a', assignedAt: 0 });

    await redis.kill();
    const started = Date.now();
    await assert.rejects(store.get('r'), isInternal);
    await assert.rejects(store.compareAndSet('r', 'a', { serverId: 'b', assignedAt: 1 }), isInternal);
    await assert.rejects(store.deleteByServer('a'), isInternal);
    await assert.rejects(store.keepAlive('a', ['r'], 1), isInternal);
    await assert.rejects(store.size(), isInternal);
    assert.ok(Date.now() - started < 1500, 'failures are immediate, not queued');
    assert.deepEqual(
      failures,
      ['get', 'compareAndSet', 'deleteByServer', 'keepAlive', 'scan'].map((op) => `${op}:unavailable`),
      'each failed command is reported once, as unavailable',
    );
    await waitFor('a warning that redis is down', () => records.some((record) => record.level === 40));

    await redis.restart(); // empty again: pins come back through registrations and keep-alives
    await waitFor(
      'the store to reconnect',
      async () => {
        try {
          return (await store.get('r')) === undefined;
        } catch {
          return false;
        }
      },
      10_000,
    );
    assert.equal(await store.compareAndSet('r', undefined, { serverId: 'a', assignedAt: 2 }), true);
  });

  test('a frozen Redis (socket open, no answers) fails calls after the command timeout', async (t) => {
    const redis = await startRedis(t);
    const store = new RedisPinStore({
      url: redis.url,
      logger: captureLogger().logger,
      ttlMs: TTL_MS,
      commandTimeoutMs: 200,
    });
    t.after(() => store.close());
    t.after(() => redis.thaw());
    const failures: string[] = [];
    store.onFailure((op, kind) => failures.push(`${op}:${kind}`));
    assert.equal(await store.ready(5000), true);
    redis.freeze();
    const started = Date.now();
    await assert.rejects(store.compareAndSet('r', undefined, { serverId: 'a', assignedAt: 0 }), isInternal);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2000, `failed after ${elapsed} ms`);
    assert.equal(store.reachable, false, 'a frozen Redis is not reachable (readiness says so)');
    assert.deepEqual(failures, ['compareAndSet:timeout'], 'reported as a timeout: its effect is unknown');
    redis.thaw();
    // No command is needed to notice: its own probe finds Redis answering again.
    await waitFor('the store to be reachable again', () => store.reachable, 10_000);
    await store.get('r');
  });

  test('the password in the URL never reaches the logs', async (t) => {
    const redis = await startRedis(t, ['--requirepass', 'the-right-one']);
    const { logger, records } = captureLogger();
    // A wrong password: AUTH fails and the store logs the connection errors.
    const store = new RedisPinStore({ url: `redis://:hunter2-secret@127.0.0.1:${redis.port}`, logger });
    t.after(() => store.close());
    assert.equal(await store.ready(500), false);
    await assert.rejects(store.get('r'), isInternal);
    await waitFor('a logged connection failure', () => records.length > 0);
    assert.doesNotMatch(JSON.stringify(records), /hunter2/);
  });
});
