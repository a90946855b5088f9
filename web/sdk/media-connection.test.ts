// MediaConnection against a real `ws` server on loopback: join, RTT, and the three ways a
// server is lost (pongs stop with the socket open, socket closed, migrate); fake clock for timing.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { WebSocket } from 'ws';
import { UsherClientError } from './errors.ts';
import { type LostEvent, MediaConnection } from './media-connection.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { closedPort, NodeWebSocket, nextEvent, send, startServer } from './testing/ws-server.ts';

const PING = { intervalMs: 1000, timeoutMs: 2500 };
const T0 = 1_700_000_000_000;

interface FakeMedia {
  /** Whether pongs are sent at all (false = a frozen server whose socket stays open). */
  answering: boolean;
  /** When set, pongs are held here until the test releases them. */
  held: Array<() => void> | null;
}

/** A media server that joins anyone and answers pings as the test says. */
async function fakeMedia(t: TestContext, onJoin?: (socket: WebSocket) => void) {
  const behaviour: FakeMedia = { answering: true, held: null };
  const server = await startServer(t, (socket, msg) => {
    if (msg.type === 'join') {
      if (onJoin !== undefined) return onJoin(socket);
      send(socket, { type: 'joined', v: 1, room: 'lobby', server: { id: 'm1' }, peerId: 'p1', peers: [] });
    } else if (msg.type === 'ping' && behaviour.answering) {
      const pong = (): void => send(socket, { type: 'pong', v: 1, seq: msg.seq });
      if (behaviour.held === null) pong();
      else behaviour.held.push(pong);
    }
  });
  return { server, behaviour };
}

function connect(url: string, extra: Partial<ConstructorParameters<typeof MediaConnection>[0]> = {}) {
  return new MediaConnection({
    url,
    ticket: 'ticket-1',
    room: 'lobby',
    ping: PING,
    WebSocket: NodeWebSocket,
    ...extra,
  });
}

describe('MediaConnection', () => {
  test('joins with the ticket and room, then pings at once', async (t) => {
    const { server } = await fakeMedia(t);
    const conn = connect(server.url);
    t.after(() => conn.close());
    const joined = await conn.open();
    assert.equal(joined.peerId, 'p1');
    assert.deepEqual(server.received[0]?.msg, { type: 'join', v: 1, ticket: 'ticket-1', room: 'lobby' });
    const ping = await server.message((msg) => msg.type === 'ping');
    assert.deepEqual(ping, { type: 'ping', seq: 1 });
  });

  test('measures RTT from the matching pong', async (t) => {
    const clock = new FakeClock(T0);
    const { server, behaviour } = await fakeMedia(t);
    behaviour.held = [];
    const conn = connect(server.url, { clock });
    t.after(() => conn.close());
    await conn.open();
    await server.message((msg) => msg.type === 'ping' && msg.seq === 1);
    clock.tick(37);
    const rtt = nextEvent<[number]>(conn, 'rtt');
    behaviour.held.shift()!();
    assert.deepEqual(await rtt, [37]);
    assert.equal(conn.lastRttMs, 37);
    assert.equal(conn.lastPongAt, T0 + 37);
  });

  test('answered pings keep the connection alive indefinitely', async (t) => {
    const clock = new FakeClock(T0);
    const { server } = await fakeMedia(t);
    const conn = connect(server.url, { clock });
    t.after(() => conn.close());
    const lost: LostEvent[] = [];
    conn.on('lost', (event) => lost.push(event));
    // Subscribe before the ping goes out: a loopback pong can beat the next line of the test.
    let rtt = nextEvent(conn, 'rtt');
    await conn.open();
    for (let seq = 1; seq <= 12; seq += 1) {
      await rtt;
      rtt = nextEvent(conn, 'rtt');
      clock.tick(PING.intervalMs);
    }
    await rtt;
    assert.deepEqual(lost, []);
  });

  test('a server that stops answering (socket open) is lost exactly timeoutMs after its last pong', async (t) => {
    const clock = new FakeClock(T0);
    const { server, behaviour } = await fakeMedia(t);
    const conn = connect(server.url, { clock });
    t.after(() => conn.close());
    const lost: LostEvent[] = [];
    conn.on('lost', (event) => lost.push(event));
    let rtt = nextEvent(conn, 'rtt');
    await conn.open();
    await rtt; // pong for seq 1 at T0
    rtt = nextEvent(conn, 'rtt');
    clock.tick(1000);
    await rtt; // pong for seq 2 at T0+1000: the last one
    behaviour.answering = false; // SIGSTOP: the socket stays open, nothing answers.

    clock.tick(1000);
    await server.message((msg) => msg.seq === 3);
    clock.tick(1000);
    await server.message((msg) => msg.seq === 4);
    clock.tick(499); // T0+1000 + 2499
    assert.deepEqual(lost, [], 'not lost before timeoutMs without a pong');
    clock.tick(1);
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0], { reason: 'ping-timeout', lastPongAt: T0 + 1000, detectedAt: T0 + 3500 });
    assert.equal(clock.pending, 0, 'no ping or deadline timer survives the loss');
  });

  test('the deadline starts at joined when no pong ever comes', async (t) => {
    const clock = new FakeClock(T0);
    const { server, behaviour } = await fakeMedia(t);
    behaviour.answering = false;
    const conn = connect(server.url, { clock });
    t.after(() => conn.close());
    await conn.open();
    const lost = nextEvent<[LostEvent]>(conn, 'lost');
    clock.tick(PING.timeoutMs);
    assert.deepEqual((await lost)[0], { reason: 'ping-timeout', lastPongAt: T0, detectedAt: T0 + 2500 });
  });

  test('a closed socket (process killed) is lost at once with reason closed', async (t) => {
    const { server } = await fakeMedia(t);
    const conn = connect(server.url);
    t.after(() => conn.close());
    await conn.open();
    const lost = nextEvent<[LostEvent]>(conn, 'lost');
    const before = Date.now();
    server.sockets[0]!.terminate();
    const [event] = await lost;
    assert.equal(event.reason, 'closed');
    assert.equal(event.closeCode, 1006);
    assert.ok(event.detectedAt >= before && event.detectedAt - before < 1000);
  });

  test('a server close code is reported (4409 = session replaced)', async (t) => {
    const { server } = await fakeMedia(t);
    const conn = connect(server.url);
    t.after(() => conn.close());
    await conn.open();
    const lost = nextEvent<[LostEvent]>(conn, 'lost');
    server.sockets[0]!.close(4409, 'SESSION_REPLACED');
    const [event] = await lost;
    assert.equal(event.reason, 'closed');
    assert.equal(event.closeCode, 4409);
  });

  test('migrate ends the connection with reason migrate', async (t) => {
    const { server } = await fakeMedia(t);
    const conn = connect(server.url);
    t.after(() => conn.close());
    await conn.open();
    const lost = nextEvent<[LostEvent]>(conn, 'lost');
    send(server.sockets[0]!, { type: 'migrate', v: 1, reason: 'draining' });
    assert.equal((await lost)[0].reason, 'migrate');
  });

  test('relays signal, peer.joined and peer.left, and sends signals and leave', async (t) => {
    const { server } = await fakeMedia(t);
    const conn = connect(server.url);
    t.after(() => conn.close());
    await conn.open();
    const socket = server.sockets[0]!;
    const signal = nextEvent(conn, 'signal');
    send(socket, { type: 'signal', v: 1, from: 'p2', data: { candidate: null } });
    assert.deepEqual(await signal, ['p2', { candidate: null }]);
    const joined = nextEvent(conn, 'peer.joined');
    send(socket, { type: 'peer.joined', v: 1, peer: { peerId: 'p3', name: 'Ada' } });
    assert.deepEqual(await joined, [{ peerId: 'p3', name: 'Ada' }]);
    const left = nextEvent(conn, 'peer.left');
    send(socket, { type: 'peer.left', v: 1, peerId: 'p3', reason: 'disconnected' });
    assert.deepEqual(await left, ['p3', 'disconnected']);
    const refused = nextEvent<[UsherClientError]>(conn, 'error');
    send(socket, {
      type: 'error',
      v: 1,
      id: null,
      code: 'PEER_NOT_FOUND',
      message: 'no such peer in this room',
    });
    assert.equal((await refused)[0].code, 'PEER_NOT_FOUND');

    assert.equal(conn.signal('p2', { candidate: null }), true);
    assert.deepEqual(await server.message((msg) => msg.type === 'signal'), {
      type: 'signal',
      v: 1,
      to: 'p2',
      data: { candidate: null },
    });
    const lost: LostEvent[] = [];
    conn.on('lost', (event) => lost.push(event));
    conn.leave();
    assert.deepEqual(await server.message((msg) => msg.type === 'leave'), { type: 'leave', v: 1 });
    assert.equal(conn.signal('p2', { candidate: null }), false, 'nothing is sent after leave');
    assert.deepEqual(lost, [], 'leaving is not losing the server');
  });

  test('a join refused with a catalogue error rejects with that code', async (t) => {
    const { server } = await fakeMedia(t, (socket) => {
      send(socket, { type: 'error', v: 1, id: null, code: 'TICKET_EXPIRED', message: 'ticket has expired' });
      socket.close(4401);
    });
    const error = await connect(server.url)
      .open()
      .catch((e: unknown) => e);
    assert.ok(error instanceof UsherClientError);
    assert.equal(error.code, 'TICKET_EXPIRED');
  });

  test('no joined within the deadline rejects with TIMEOUT', async (t) => {
    const clock = new FakeClock(T0);
    const { server } = await fakeMedia(t, () => {});
    const opening = connect(server.url, { joinTimeoutMs: 3000, clock }).open();
    await server.message((msg) => msg.type === 'join');
    clock.tick(3000);
    await assert.rejects(opening, (error: UsherClientError) => error.code === 'TIMEOUT');
  });

  test('an unreachable server rejects with MEDIA_UNREACHABLE', async () => {
    const port = await closedPort();
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`).open(),
      (error: UsherClientError) => error.code === 'MEDIA_UNREACHABLE',
    );
  });

  test('close() while joining rejects the open with ABORTED', async (t) => {
    const { server } = await fakeMedia(t, () => {});
    const conn = connect(server.url);
    const opening = conn.open();
    await server.message((msg) => msg.type === 'join');
    conn.close();
    await assert.rejects(opening, (error: UsherClientError) => error.code === 'ABORTED');
  });
});
