// The control channel against a real ws server standing in for the broker: register
// (token checked), load deltas, broker restart, refusals, silence, and drain from the broker.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  JitterBackoffPolicy,
  type ReconnectContext,
  type ReconnectPolicy,
} from '../../shared/reconnect-policy.ts';
import { FakeClock } from '../../shared/testing/fake-clock.ts';
import { parseSecret } from '../common/keys.ts';
import { signTicket, verifyControlToken } from '../common/tickets.ts';
import {
  CONTROL_BACKOFF,
  type ControlClient,
  type ControlClientOptions,
  controlUrl,
  createControlClient,
} from './control-client.ts';
import { createMediaServer } from './index.ts';
import { RoomRegistry } from './rooms.ts';
import { captureLogger, type Message, TestClient, until, WAIT_MS } from './testing/harness.ts';

const keys = parseSecret(`k1:${'s'.repeat(32)}`);
const capacity = { maxRooms: 10, maxPeersPerRoom: 5, maxPeers: 20 };

/** A stand-in broker: records every control message per connection, answers as told. */
class FakeBroker {
  readonly messages: { socket: WebSocket; msg: Message }[] = [];
  readonly sockets = new Set<WebSocket>();
  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data) => this.messages.push({ socket, msg: JSON.parse(data.toString()) }));
    });
  }

  static async start(port = 0): Promise<FakeBroker> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: http, path: '/v1/control' });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    return new FakeBroker(http, wss, (http.address() as AddressInfo).port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Removes and returns the first message of `type` (waiting for it). */
  async next(
    type: string,
    match: (m: Message) => boolean = () => true,
  ): Promise<{ socket: WebSocket; msg: Message }> {
    let found: { socket: WebSocket; msg: Message } | undefined;
    await until(() => {
      const index = this.messages.findIndex((entry) => entry.msg.type === type && match(entry.msg));
      if (index >= 0) found = this.messages.splice(index, 1)[0];
      return found !== undefined;
    }, `the broker to receive ${type}`);
    return found!;
  }

  registered(socket: WebSocket, intervalMs = 30, timeoutMs = 2000): void {
    socket.send(JSON.stringify({ type: 'registered', v: 1, heartbeat: { intervalMs, timeoutMs } }));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function setup(
  t: { after(fn: () => unknown): void },
  brokerUrl: string,
  registerTimeoutMs?: number,
  extra: Partial<ControlClientOptions> = {},
) {
  const { logger, records } = captureLogger();
  let client: ControlClient | undefined;
  const rooms = new RoomRegistry<{ peerId: string; name: string; identity: string }>({
    opened: (room) => client?.roomOpened(room),
    closed: (room) => client?.roomClosed(room),
  });
  const drains: number[] = [];
  const start = () => {
    client = createControlClient({
      brokerUrl,
      id: 'media-7',
      url: 'ws://127.0.0.1:9999/v1/media',
      keys,
      logger,
      capacity,
      snapshot: () => ({
        peers: rooms.peerCount,
        rooms: rooms.roomCount,
        draining: false,
        roomList: () => [...rooms.list()],
      }),
      onDrain: () => drains.push(Date.now()),
      ...(registerTimeoutMs === undefined ? {} : { registerTimeoutMs }),
      ...extra,
    });
    t.after(() => client?.close());
    return client;
  };
  return { rooms, records, drains, start };
}

/** A port nothing listens on (a broker that is down): every connect is refused at once. */
async function closedPort(): Promise<{ port: number; url: string }> {
  const broker = await FakeBroker.start();
  await broker.stop();
  return { port: broker.port, url: broker.url };
}

/** The default policy with `random` fixed, recording what the client asked it. */
function recordingPolicy(random: () => number): { policy: ReconnectPolicy; asked: ReconnectContext[] } {
  const inner = new JitterBackoffPolicy({ ...CONTROL_BACKOFF, random });
  const asked: ReconnectContext[] = [];
  return {
    asked,
    policy: {
      nextRetryDelayMs(ctx) {
        asked.push(ctx);
        return inner.nextRetryDelayMs(ctx);
      },
    },
  };
}

describe('control client reconnect policy', () => {
  test('first retry within 50 ms, then windows of 200, 400, 800 ms, capped at 1 s, never giving up', () => {
    const policy = new JitterBackoffPolicy(CONTROL_BACKOFF);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 30, 10_000].map((attempt) => policy.windowMs(attempt)),
      [50, 200, 400, 800, 1000, 1000, 1000, 1000],
    );
    const ctx = { attempt: 1000, elapsedMs: 7 * 24 * 3600_000, reason: 'closed 1006' };
    const slowest = new JitterBackoffPolicy({ ...CONTROL_BACKOFF, random: () => 0.999_999_999 });
    assert.equal(slowest.nextRetryDelayMs(ctx), 999, 'a week down: still retrying, within 1 s');
    assert.equal(new JitterBackoffPolicy({ ...CONTROL_BACKOFF, random: () => 0 }).nextRetryDelayMs(ctx), 0);
  });

  test('on a fake clock: the client waits what the policy says, counts attempts, and starts again after registering', async (t) => {
    const down = await closedPort();
    const clock = new FakeClock();
    const { policy, asked } = recordingPolicy(() => 0.999_999_999);
    const { start } = setup(t, down.url, undefined, { clock, reconnect: policy });
    const client = start();

    // Each refused connect asks the policy once and arms one retry timer; time moves only by tick().
    const delays: number[] = [];
    for (let retry = 0; retry < 7; retry += 1) {
      await until(() => asked.length === retry + 1 && clock.pending === 1, `retry ${retry} to be scheduled`);
      assert.equal(client.currentState, 'waiting');
      const delay = CONTROL_BACKOFF_WINDOWS[Math.min(retry, CONTROL_BACKOFF_WINDOWS.length - 1)]! - 1;
      delays.push(delay);
      if (retry < 6) clock.tick(delay);
    }
    assert.deepEqual(
      asked.map((ctx) => ctx.attempt),
      [0, 1, 2, 3, 4, 5, 6],
    );
    // elapsedMs is measured on the injected clock from the first refusal: the sum of the waits before it.
    assert.deepEqual(
      asked.map((ctx) => ctx.elapsedMs),
      [0, 49, 248, 647, 1446, 2445, 3444],
    );
    assert.match(asked[0]!.reason, /^closed /);

    // The broker is back on that port: the pending retry registers, and the count starts again.
    const broker = await FakeBroker.start(down.port);
    t.after(() => broker.stop());
    clock.tick(delays.at(-1)!);
    const { socket } = await broker.next('register');
    broker.registered(socket, 1000, 5000);
    await until(() => client.registered, 'registered');
    assert.equal(client.currentState, 'registered');
    socket.terminate();
    await until(() => asked.length === 8 && client.currentState === 'waiting', 'the retry after the loss');
    assert.deepEqual(asked[7], { attempt: 0, elapsedMs: 0, reason: 'closed 1006' });
    assert.equal(clock.pending, 1);
    clock.tick(49);
    const again = await broker.next('register');
    assert.notEqual(again.socket, socket);
  });

  test('a policy that gives up stops the client', async (t) => {
    const down = await closedPort();
    const { records, start } = setup(t, down.url, undefined, {
      reconnect: { nextRetryDelayMs: (ctx) => (ctx.attempt < 2 ? 0 : null) },
    });
    const client = start();
    await until(() => client.currentState === 'stopped', 'the client to give up');
    const line = records.find((r) => r.msg === 'giving up on the broker');
    assert.equal(line?.attempts, 2);
    await client.close();
  });

  test('a broker down for 3 s sees the server re-register within 1.2 s of coming back', async (t) => {
    let broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { start } = setup(t, broker.url);
    const client = start();
    broker.registered((await broker.next('register')).socket);
    await until(() => client.registered, 'registered');

    const port = broker.port;
    await broker.stop();
    await until(() => !client.registered, 'the client to notice');
    // The outage itself: long enough for the old backoff (up to 5 s) to have grown past a second.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    broker = await FakeBroker.start(port);
    const back = performance.now();
    const { socket } = await broker.next('register');
    const registerAfterMs = performance.now() - back;
    broker.registered(socket);
    await until(() => client.registered, 'registered again');
    assert.ok(registerAfterMs < 1200, `register ${registerAfterMs.toFixed(0)} ms after the broker came back`);
  });
});

/** The policy's windows for attempts 0, 1, 2, … (the last repeats). */
const CONTROL_BACKOFF_WINDOWS = [50, 200, 400, 800, 1000];

describe('control client', () => {
  test('control URL is ws(s)://<broker host>/v1/control', () => {
    assert.equal(controlUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/v1/control');
    assert.equal(controlUrl('https://broker.example/some/path'), 'wss://broker.example/v1/control');
  });

  test('registers with a valid token and its rooms, reports load deltas, re-registers after a broker restart', async (t) => {
    let broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { rooms, records, start } = setup(t, broker.url);
    const a = { peerId: 'a', name: '', identity: 'a' };
    rooms.add('r0', a);
    const client = start();

    const first = await broker.next('register');
    const register = first.msg;
    await verifyControlToken(keys, String(register.token), 'media-7');
    assert.deepEqual(
      { ...register, token: undefined },
      {
        type: 'register',
        v: 1,
        id: 'media-7',
        url: 'ws://127.0.0.1:9999/v1/media',
        token: undefined,
        capacity,
        draining: false,
        rooms: [{ room: 'r0', peers: 1 }],
      },
    );
    broker.registered(first.socket);
    await until(() => client.registered, 'registered');
    assert.ok(
      records.some((r) => r.msg === 'registered with broker' && r.broker === broker.url),
      'registered log line names the broker',
    );

    const b = { peerId: 'b', name: '', identity: 'b' };
    rooms.add('r1', b); // opened
    rooms.remove('r0', a); // closed
    rooms.add('r2', a); // opened and closed again before the report: not reported
    rooms.remove('r2', a);
    const changed = await broker.next(
      'load',
      (m) => (m.opened as string[]).length + (m.closed as string[]).length > 0,
    );
    assert.deepEqual(changed.msg, {
      type: 'load',
      v: 1,
      peers: 1,
      rooms: 1,
      draining: false,
      opened: ['r1'],
      closed: ['r0'],
    });
    broker.messages.length = 0;
    const quiet = await broker.next('load');
    assert.deepEqual([quiet.msg.opened, quiet.msg.closed], [[], []]);

    // The broker dies; rooms change while it is away; a new broker on the same port gets everything.
    const port = broker.port;
    await broker.stop();
    await until(() => !client.registered, 'the client to notice');
    rooms.add('r3', { peerId: 'c', name: '', identity: 'c' });
    broker = await FakeBroker.start(port);
    const again = await broker.next('register');
    assert.deepEqual(again.msg.rooms, [
      { room: 'r1', peers: 1 },
      { room: 'r3', peers: 1 },
    ]);
    broker.registered(again.socket);
    await until(() => client.registered, 'registered again');
    const load = await broker.next('load');
    assert.deepEqual([load.msg.opened, load.msg.closed], [[], []]);
    assert.equal(records.filter((r) => r.msg === 'registered with broker').length, 2);

    await client.close();
    await until(() => broker.sockets.size === 0, 'the channel to close');
    assert.equal(client.registered, false);
    assert.equal(JSON.stringify(records).includes(String(register.token)), false, 'no token in logs');
  });

  test('a broker error is logged by code and retried with backoff', async (t) => {
    const broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { records, start } = setup(t, broker.url);
    const client = start();
    const refused = await broker.next('register');
    refused.socket.send(
      JSON.stringify({
        type: 'error',
        v: 1,
        id: null,
        code: 'ID_IN_USE',
        message: 'a live server already holds this id',
      }),
    );
    refused.socket.close(4409, 'ID_IN_USE');
    const retried = await broker.next('register');
    assert.notEqual(retried.socket, refused.socket);
    broker.registered(retried.socket);
    await until(() => client.registered, 'registered after the refusal');
    const logged = records.find((r) => r.code === 'ID_IN_USE');
    assert.ok(logged, 'the refusal is logged');
    assert.equal(logged.message, undefined);
  });

  test('no registered reply, or a broker that stops answering pings, ⇒ reconnect', async (t) => {
    const broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { start } = setup(t, broker.url, 100);
    const client = start();
    const ignored = await broker.next('register');
    const second = await broker.next('register');
    assert.notEqual(second.socket, ignored.socket);
    broker.registered(second.socket, 20, 150);
    await until(() => client.registered, 'registered');
    // Freeze the broker's side of the socket: nothing is read, so no pong comes back.
    (second.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const third = await broker.next('register');
    assert.notEqual(third.socket, second.socket);
  });

  test('drain from the broker drains the media server, which reports it at once', async (t) => {
    const broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { logger, records } = captureLogger();
    const server = await createMediaServer({ id: 'media-9', port: 0, keys, logger, brokerUrl: broker.url });
    t.after(() => server.close());
    const { socket, msg } = await broker.next('register');
    assert.equal(msg.url, server.url);
    assert.deepEqual(msg.capacity, { maxRooms: 10_000, maxPeersPerRoom: 50, maxPeers: 20_000 });
    broker.registered(socket, 60_000, 120_000); // no heartbeat tick: the only load is the one drain sends
    await until(() => records.some((r) => r.msg === 'registered with broker'), 'registered log line');

    const client = await TestClient.open(server.url);
    t.after(() => client.close());
    const ticket = signTicket(keys, {
      sessionId: 'p1',
      room: 'jam',
      serverId: 'media-9',
      name: '',
      ttlSeconds: 30,
    });
    client.send({ type: 'join', v: 1, ticket: ticket.ticket });
    await client.nextOfType('joined');

    socket.send(JSON.stringify({ type: 'drain', v: 1 }));
    await client.nextOfType('migrate', WAIT_MS);
    const load = await broker.next('load', (m) => m.draining === true);
    assert.deepEqual(load.msg.opened, ['jam']);
    assert.equal(server.stats().draining, true);
  });
});

/** A control client registered with a fake broker at a one-minute heartbeat: every report the test sees is one it caused. */
async function registeredClient(t: TestContext) {
  const broker = await FakeBroker.start();
  t.after(() => broker.stop());
  const { start } = setup(t, broker.url);
  const client = start();
  const { socket } = await broker.next('register');
  broker.registered(socket, 60_000);
  await until(() => client.registered, 'registered');
  return { broker, client };
}

describe('control client: participants', () => {
  test('membership changes go in the order they happened, a rejoin of the same peer id too', async (t) => {
    const { broker, client } = await registeredClient(t);
    const entry = { room: 'lobby', peerId: 'p1', identity: 'p1', name: 'Ada', joinedAt: 1000 };
    client.memberJoined(entry);
    client.memberLeft({ room: 'lobby', peerId: 'p1', joinedAt: 1000, reason: 'left' });
    client.memberJoined({ ...entry, joinedAt: 2000 });
    client.reportNow();
    const first = (await broker.next('load')).msg;
    assert.deepEqual(first.changes, [
      { event: 'joined', ...entry },
      { event: 'left', room: 'lobby', peerId: 'p1', joinedAt: 1000, reason: 'left' },
      { event: 'joined', ...entry, joinedAt: 2000 },
    ]);
    client.memberLeft({ room: 'lobby', peerId: 'p1', joinedAt: 2000, reason: 'lost' });
    client.reportNow();
    const second = (await broker.next('load')).msg;
    assert.deepEqual(second.changes, [
      { event: 'left', room: 'lobby', peerId: 'p1', joinedAt: 2000, reason: 'lost' },
    ]);
  });

  test('a churn of short memberships costs no report until the next heartbeat, then one', async (t) => {
    const { broker, client } = await registeredClient(t);
    const members = Array.from({ length: 20 }, (_, index) => ({
      room: 'churn',
      peerId: `p${index}`,
      identity: `u${index}`,
      name: '',
      joinedAt: 1000 + index,
    }));
    const expected: unknown[] = [];
    for (const member of members) {
      client.memberJoined(member);
      // Each leave in a turn of its own, as real clients close.
      await new Promise((resolve) => setImmediate(resolve));
      const left = {
        room: member.room,
        peerId: member.peerId,
        joinedAt: member.joinedAt,
        reason: 'left' as const,
      };
      client.memberLeft(left);
      expected.push({ event: 'joined', ...member }, { event: 'left', ...left });
    }
    client.reportNow();
    // The first load the broker sees is that one: nothing went before it.
    assert.deepEqual((await broker.next('load')).msg.changes, expected);
  });

  test('a register carries the first 4,000 members; the rest follow as joined changes right after registered', async (t) => {
    const broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const members = Array.from({ length: 4500 }, (_, index) => ({
      room: `r${index % 50}`,
      peerId: `p${index}`,
      identity: `u${index}`,
      name: '',
      joinedAt: index,
    }));
    const { start } = setup(t, broker.url, undefined, {
      snapshot: () => ({
        peers: members.length,
        rooms: 50,
        draining: false,
        roomList: () => Array.from({ length: 50 }, (_, index) => ({ room: `r${index}`, peers: 90 })),
        members: () => members,
      }),
    });
    start();
    const { socket, msg } = await broker.next('register');
    assert.deepEqual(msg.members, members.slice(0, 4000));
    broker.registered(socket, 60_000); // no heartbeat: the next load is the one registered caused
    const load = (await broker.next('load')).msg;
    assert.deepEqual(
      load.changes,
      members.slice(4000).map((member) => ({ event: 'joined', ...member })),
    );
  });

  test('more changes than one report holds go in several reports at once, in order', async (t) => {
    const { broker, client } = await registeredClient(t);
    for (let index = 0; index < 2500; index++)
      client.memberJoined({
        room: 'big',
        peerId: `p${index}`,
        identity: `u${index}`,
        name: '',
        joinedAt: index,
      });
    // Every 1000 changes go at once; the rest wait for the next report.
    const sizes: number[] = [];
    for (let report = 0; report < 2; report++)
      sizes.push(((await broker.next('load')).msg.changes as unknown[] | undefined)?.length ?? 0);
    assert.deepEqual(sizes, [1000, 1000]);
    client.reportNow();
    const rest = (await broker.next('load')).msg.changes as { peerId: string }[];
    assert.equal(rest.length, 500);
    assert.equal(rest[0]?.peerId, 'p2000');
  });
});
