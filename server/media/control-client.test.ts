// The control channel against a real ws server standing in for the broker: register
// (token checked), load deltas, broker restart, refusals, silence, and drain from the broker.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseSecret } from '../common/keys.ts';
import { signTicket, verifyControlToken } from '../common/tickets.ts';
import { type ControlClient, controlUrl, createControlClient } from './control-client.ts';
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

function setup(t: { after(fn: () => unknown): void }, brokerUrl: string, registerTimeoutMs?: number) {
  const { logger, records } = captureLogger();
  let client: ControlClient | undefined;
  const rooms = new RoomRegistry<{ peerId: string; name: string }>({
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
        roomList: [...rooms.list()],
      }),
      onDrain: () => drains.push(Date.now()),
      backoff: { baseMs: 10, capMs: 100 },
      ...(registerTimeoutMs === undefined ? {} : { registerTimeoutMs }),
    });
    t.after(() => client?.close());
    return client;
  };
  return { rooms, records, drains, start };
}

describe('control client', () => {
  test('control URL is ws(s)://<broker host>/v1/control', () => {
    assert.equal(controlUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/v1/control');
    assert.equal(controlUrl('https://broker.example/some/path'), 'wss://broker.example/v1/control');
  });

  test('registers with a valid token and its rooms, reports load deltas, re-registers after a broker restart', async (t) => {
    let broker = await FakeBroker.start();
    t.after(() => broker.stop());
    const { rooms, records, start } = setup(t, broker.url);
    const a = { peerId: 'a', name: '' };
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

    const b = { peerId: 'b', name: '' };
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
    rooms.add('r3', { peerId: 'c', name: '' });
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
