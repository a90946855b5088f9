// Several brokers sharing room pins through a real Redis: members of one room asking different
// brokers land on one server, a failover through both moves the room once, a restarted broker
// keeps every room where it was, a Redis outage fails requests, not registrations, and the
// `usher` CLI wires it all from flags and env.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { type Broker, createBroker } from '../../server/broker/index.ts';
import { RedisPinStore } from '../../server/broker/redis-pin-store.ts';
import {
  captureLogger,
  FakeMedia,
  getJson,
  type Json,
  keys,
  type LogRecord,
  postJson,
  type TestBroker,
  waitFor,
} from '../../server/broker/testing/harness.ts';
import { startRedis, type TestRedis } from '../../server/broker/testing/redis-server.ts';
import { createMediaServer, type MediaServer } from '../../server/media/index.ts';
import { TestClient } from '../../server/media/testing/harness.ts';
import { freePort } from '../../shared/testing/free-port.ts';

const bin = new URL('../../bin/usher.mjs', import.meta.url).pathname;
const SECRET = 'multi-broker-secret-0123456789';

const HEARTBEAT = { intervalMs: 100, timeoutMs: 1000 };
/** The shortest TTL the store allows: keep-alives then run every 3.3 s. */
const PIN_TTL_MS = 10_000;

interface SharedBroker {
  broker: Broker;
  pins: RedisPinStore;
  records: LogRecord[];
  /** Closes the broker, then its Redis connection (idempotent). */
  close(): Promise<void>;
}

async function startSharedBroker(t: TestContext, redis: TestRedis, port = 0): Promise<SharedBroker> {
  const { logger, records } = captureLogger();
  const pins = new RedisPinStore({ url: redis.url, logger, ttlMs: PIN_TTL_MS });
  let broker: Broker;
  try {
    assert.equal(await pins.ready(5000), true, 'broker connected to redis');
    broker = await createBroker({
      port,
      keys,
      auth: { mode: 'open' },
      logger,
      pins,
      heartbeat: HEARTBEAT,
      rateLimit: false,
    });
  } catch (error) {
    await pins.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= broker.close().finally(() => pins.close());
    return closing;
  };
  t.after(close);
  return { broker, pins, records, close };
}

async function startMedia(
  t: TestContext,
  id: string,
  brokers: readonly SharedBroker[],
): Promise<MediaServer> {
  const server = await createMediaServer({
    id,
    port: 0,
    brokerUrls: brokers.map((shared) => shared.broker.url),
    keys,
    logger: captureLogger().logger,
  });
  t.after(() => server.close());
  return server;
}

async function healthyServers(shared: SharedBroker): Promise<number> {
  return (await getJson(`${shared.broker.url}/healthz`)).body.servers as number;
}

async function allRegistered(brokers: readonly SharedBroker[], count: number): Promise<void> {
  await waitFor(
    `${count} media servers registered with every broker`,
    async () => (await Promise.all(brokers.map(healthyServers))).every((n) => n === count),
    10_000,
  );
}

let requests = 0;
async function requestSession(
  shared: SharedBroker,
  room: string,
  exclude?: string[],
): Promise<{ status: number; body: Json }> {
  return postJson(`${shared.broker.url}/v1/sessions`, {
    type: 'session.request',
    v: 1,
    id: `q${++requests}`,
    room,
    ...(exclude === undefined ? {} : { exclude }),
  });
}

/** The assigned server's id; fails the test on any error answer. */
async function assigned(shared: SharedBroker, room: string, exclude?: string[]): Promise<string> {
  const { status, body } = await requestSession(shared, room, exclude);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.server as { id: string }).id;
}

/** Asks for a session and joins the assigned server with its ticket, as a browser would. */
async function join(t: TestContext, shared: SharedBroker, room: string): Promise<string> {
  const { status, body } = await requestSession(shared, room);
  assert.equal(status, 200, JSON.stringify(body));
  const server = body.server as { id: string; url: string };
  const client = await TestClient.open(server.url);
  t.after(() => client.ws.terminate());
  client.send({ type: 'join', v: 1, ticket: body.ticket, room });
  await client.nextOfType('joined');
  return server.id;
}

async function setup(t: TestContext) {
  const redis = await startRedis(t);
  const brokers = [await startSharedBroker(t, redis), await startSharedBroker(t, redis)];
  const media = [
    await startMedia(t, 'm1', brokers),
    await startMedia(t, 'm2', brokers),
    await startMedia(t, 'm3', brokers),
  ];
  await allRegistered(brokers, 3);
  return { redis, brokers, media };
}

describe('several brokers sharing pins in Redis', () => {
  test('members of one room asking different brokers land on the same server', async (t) => {
    const { brokers } = await setup(t);
    const [a, b] = brokers as [SharedBroker, SharedBroker];
    const rooms = Array.from({ length: 12 }, (_, index) => `room-${index}`);
    // Both brokers at once for every room: the first placement is a race each time.
    const pairs = await Promise.all(rooms.map((room) => Promise.all([assigned(a, room), assigned(b, room)])));
    for (const [viaA, viaB] of pairs) assert.equal(viaA, viaB);
    for (const [index, room] of rooms.entries())
      assert.equal(await assigned(brokers[index % 2]!, room), pairs[index]![0], 'and later members too');
    assert.ok(new Set(pairs.map(([id]) => id)).size > 1, 'new rooms are still spread over the fleet');
  });

  test('a dead server’s room moves once: exclude requests through both brokers converge on one server', async (t) => {
    const { brokers, media } = await setup(t);
    const [a, b] = brokers as [SharedBroker, SharedBroker];
    const first = await join(t, a, 'call');
    assert.equal(await join(t, b, 'call'), first);
    const dead = media.find((server) => server.id === first)!;
    await dead.close();
    await allRegistered(brokers, 2);

    // Every member noticed at once and asks again, half through each broker.
    const next = await Promise.all(
      Array.from({ length: 8 }, (_, index) => assigned(brokers[index % 2]!, 'call', [first])),
    );
    assert.equal(new Set(next).size, 1, `one new server, got ${next.join(',')}`);
    assert.notEqual(next[0], first);
    assert.equal(await assigned(b, 'call'), next[0], 'a newcomer without exclude follows the room');
    const moves = [...a.records, ...b.records].filter((record) => record.msg === 'room moved');
    assert.equal(moves.length, 1, 'the move is logged once, by the broker that made it');
    assert.equal(moves[0]?.from, first);
  });

  test('a restarted broker keeps every room on its server, live or with members on their way', async (t) => {
    const { redis, brokers } = await setup(t);
    const [a, b] = brokers as [SharedBroker, SharedBroker];
    const live = await join(t, a, 'live');
    const pending = await assigned(a, 'on-the-way'); // ticket issued, nobody joined yet
    await join(t, b, 'live');

    const port = a.broker.port;
    await a.close();
    const restarted = await startSharedBroker(t, redis, port);
    await allRegistered([restarted, b], 3); // the media servers came back to it
    assert.equal(await assigned(restarted, 'live'), live);
    assert.equal(await assigned(restarted, 'on-the-way'), pending);
    assert.equal(await assigned(b, 'on-the-way'), pending);
  });
});

describe('a broker whose Redis goes down', () => {
  test('answers INTERNAL to session requests, still takes registrations, and recovers every room', async (t) => {
    const redis = await startRedis(t);
    const shared = await startSharedBroker(t, redis);
    await startMedia(t, 'm1', [shared]);
    await allRegistered([shared], 1);
    const server = await join(t, shared, 'call');

    await redis.kill();
    const { status, body } = await requestSession(shared, 'call');
    assert.equal(status, 500);
    assert.equal(body.code, 'INTERNAL');
    assert.doesNotMatch(JSON.stringify(body), /redis|127\.0\.0\.1/i, 'no infrastructure details');
    assert.equal(
      (await getJson(`${shared.broker.url}/readyz`)).status,
      503,
      'a load balancer routes around it',
    );
    assert.equal((await getJson(`${shared.broker.url}/healthz`)).status, 200, 'alive all the same');
    const metrics = await fetch(`${shared.broker.url}/metrics`);
    assert.equal(metrics.status, 200, 'the other metrics are still served');
    assert.match(await metrics.text(), /usher_broker_media_servers 1/);
    // A media server can still register (its rooms are re-pinned later by keep-alives).
    const tb = { ws: (path: string) => `${shared.broker.url.replace(/^http/, 'ws')}${path}` } as TestBroker;
    const extra = await FakeMedia.connect(t, tb, 'm2', { heartbeatMs: HEARTBEAT.intervalMs });
    assert.equal(extra.id, 'm2');

    // Redis comes back empty: the live room's server pins it again, and members keep finding it.
    await redis.restart();
    await waitFor(
      'the live room to be pinned again',
      async () => {
        try {
          return (await shared.pins.get('call'))?.serverId === server;
        } catch {
          return false;
        }
      },
      15_000,
    );
    assert.equal(await assigned(shared, 'call'), server);
  });
});

describe('the usher CLI with several brokers', () => {
  test('two `usher broker` with Redis and one `usher media --broker a,b`: registered with both, one server per room', async (t) => {
    const redis = await startRedis(t);
    const [portA, portB, portM] = [await freePort(), await freePort(), await freePort()];
    const urlA = `http://127.0.0.1:${portA}`;
    const urlB = `http://127.0.0.1:${portB}`;
    // One broker gets Redis by flag, the other by env, as in docker-compose.yml.
    const logsA = usher(t, ['broker', '--port', String(portA), '--redis-url', redis.url]);
    const logsB = usher(t, ['broker', '--port', String(portB)], { USHER_REDIS_URL: redis.url });
    usher(t, ['media', '--id', 'cli-m1', '--port', String(portM), '--broker', `${urlA},${urlB}`]);
    await waitFor(
      'the media server registered with both brokers',
      async () => {
        try {
          const counts = await Promise.all(
            [urlA, urlB].map(async (url) => (await getJson(`${url}/healthz`)).body.servers),
          );
          return counts.every((count) => count === 1);
        } catch {
          return false; // not listening yet
        }
      },
      20_000,
    );
    for (const logs of [logsA, logsB]) assert.match(logs(), /shared room state \(redis\) connected/);
    const viaA = await postJson(`${urlA}/v1/sessions`, {
      type: 'session.request',
      v: 1,
      id: 'a',
      room: 'cli',
    });
    const viaB = await postJson(`${urlB}/v1/sessions`, {
      type: 'session.request',
      v: 1,
      id: 'b',
      room: 'cli',
    });
    assert.equal(viaA.status, 200, JSON.stringify(viaA.body));
    assert.deepEqual(viaB.body.server, viaA.body.server);
  });
});

/** Runs `usher …` with the test secret; killed after the test. Returns its output so far. */
function usher(t: TestContext, args: string[], env: Record<string, string> = {}): () => string {
  const child: ChildProcess = spawn(process.execPath, [bin, ...args], {
    // Open admission: these clients send no join tokens (admission has its own tests).
    env: { PATH: process.env.PATH ?? '', USHER_SECRET: SECRET, USHER_AUTH: 'open', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  });
  return () => output;
}
