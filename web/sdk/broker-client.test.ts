// BrokerClient against a tiny real broker on loopback: request shape, correlation by id,
// socket reuse and lazy reconnect, error mapping to catalogue/client codes, timeouts.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { WebSocket } from 'ws';
import { Limits } from '../../shared/protocol/common.ts';
import { BrokerClient, EXCLUDE_MAX } from './broker-client.ts';
import { UsherClientError } from './errors.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { closedPort, NodeWebSocket, send, startServer } from './testing/ws-server.ts';

function assigned(id: unknown, room: unknown, serverId = 'media-1') {
  return {
    type: 'session.assigned',
    v: 1,
    id,
    sessionId: 'sess-1',
    room,
    server: { id: serverId, url: `ws://127.0.0.1:9/${serverId}` },
    ticket: 'eyJ.ticket',
    ticketExpiresAt: 1_800_000_000_000,
    ping: { intervalMs: 1000, timeoutMs: 2500 },
    iceServers: [],
    client: { address: '127.0.0.1', port: 50000 },
  };
}

type Reply = (socket: WebSocket, msg: Record<string, unknown>) => void;

async function broker(t: TestContext, reply: Reply) {
  const server = await startServer(t, reply);
  const client = new BrokerClient({ url: server.url, WebSocket: NodeWebSocket });
  t.after(() => client.close());
  return { server, client };
}

const rejectsWith = (code: string) => (error: unknown) =>
  error instanceof UsherClientError && error.code === code;

describe('BrokerClient', () => {
  test('sends a versioned session.request and resolves with the assignment', async (t) => {
    const { server, client } = await broker(t, (socket, msg) => send(socket, assigned(msg.id, msg.room)));
    const reply = await client.request({
      room: 'lobby',
      name: 'Ada',
      exclude: ['media-2'],
      resume: 'eyJ.last-ticket',
    });
    assert.equal(reply.server.url, 'ws://127.0.0.1:9/media-1');
    assert.deepEqual(server.received[0]?.msg, {
      type: 'session.request',
      v: 1,
      id: 'r1',
      room: 'lobby',
      name: 'Ada',
      exclude: ['media-2'],
      resume: 'eyJ.last-ticket',
    });
  });

  test('leaves out optional fields it was not given', async (t) => {
    const { server, client } = await broker(t, (socket, msg) => send(socket, assigned(msg.id, msg.room)));
    await client.request({ room: 'lobby', exclude: [] });
    assert.deepEqual(server.received[0]?.msg, { type: 'session.request', v: 1, id: 'r1', room: 'lobby' });
  });

  test('correlates concurrent requests by id even when replies come out of order', async (t) => {
    const held: Array<() => void> = [];
    const { server, client } = await broker(t, (socket, msg) => {
      held.push(() => send(socket, assigned(msg.id, msg.room, `server-for-${String(msg.room)}`)));
      if (held.length === 3) for (const release of held.reverse()) release();
    });
    const replies = await Promise.all(['a', 'b', 'c'].map((room) => client.request({ room })));
    assert.deepEqual(
      replies.map((reply) => reply.server.id),
      ['server-for-a', 'server-for-b', 'server-for-c'],
    );
    assert.equal(server.sockets.length, 1, 'one socket shared by all requests');
  });

  test('reuses one socket for sequential requests', async (t) => {
    const { server, client } = await broker(t, (socket, msg) => send(socket, assigned(msg.id, msg.room)));
    for (let i = 0; i < 3; i += 1) await client.request({ room: 'lobby' });
    assert.equal(server.sockets.length, 1);
  });

  test('maps an error reply to its catalogue code, keeping retryAfterMs', async (t) => {
    const { client } = await broker(t, (socket, msg) =>
      send(socket, {
        type: 'error',
        v: 1,
        id: msg.id,
        code: 'RATE_LIMITED',
        message: 'too many requests; retry after retryAfterMs',
        retryAfterMs: 750,
      }),
    );
    const error = await client.request({ room: 'lobby' }).catch((e: unknown) => e);
    assert.ok(error instanceof UsherClientError);
    assert.equal(error.code, 'RATE_LIMITED');
    assert.equal(error.retryAfterMs, 750);
    assert.equal(error.retryable, true);
  });

  test('a version refusal is not retryable; an unknown code becomes BAD_REPLY', async (t) => {
    let n = 0;
    const { client } = await broker(t, (socket, msg) => {
      n += 1;
      const code = n === 1 ? 'UNSUPPORTED_VERSION' : 'NOT_A_CODE';
      send(socket, { type: 'error', v: 1, id: msg.id, code, message: 'x', supported: [1] });
    });
    const first = (await client.request({ room: 'lobby' }).catch((e: unknown) => e)) as UsherClientError;
    assert.equal(first.code, 'UNSUPPORTED_VERSION');
    assert.equal(first.retryable, false);
    await assert.rejects(client.request({ room: 'lobby' }), rejectsWith('BAD_REPLY'));
  });

  test('an assignment without a usable server URL is BAD_REPLY', async (t) => {
    const { client } = await broker(t, (socket, msg) => {
      const reply = assigned(msg.id, msg.room);
      reply.server.url = 'http://not-a-websocket';
      send(socket, reply);
    });
    await assert.rejects(client.request({ room: 'lobby' }), rejectsWith('BAD_REPLY'));
  });

  test('ignores replies for unknown ids and garbage frames', async (t) => {
    const { client } = await broker(t, (socket, msg) => {
      socket.send('not json');
      send(socket, assigned('someone-else', msg.room, 'wrong'));
      send(socket, assigned(msg.id, msg.room, 'right'));
    });
    assert.equal((await client.request({ room: 'lobby' })).server.id, 'right');
  });

  test('times out a request the broker never answers, then reconnects for the next', async (t) => {
    const clock = new FakeClock();
    let answer = false;
    const server = await startServer(t, (socket, msg) => {
      if (answer) send(socket, assigned(msg.id, msg.room));
    });
    const client = new BrokerClient({
      url: server.url,
      WebSocket: NodeWebSocket,
      clock,
      requestTimeoutMs: 4000,
    });
    t.after(() => client.close());
    const pending = client.request({ room: 'lobby' });
    await server.message((msg) => msg.type === 'session.request');
    let settled = false;
    void pending
      .catch(() => undefined)
      .then(() => {
        settled = true;
      });
    clock.tick(3999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'still waiting 1 ms before the deadline');
    clock.tick(1);
    await assert.rejects(pending, rejectsWith('TIMEOUT'));
    answer = true;
    await client.request({ room: 'lobby' });
    assert.equal(server.sockets.length, 2, 'a timed-out socket is replaced');
  });

  test('an unreachable broker is BROKER_UNREACHABLE', async (t) => {
    const port = await closedPort();
    const client = new BrokerClient({ url: `ws://127.0.0.1:${port}/v1/session`, WebSocket: NodeWebSocket });
    t.after(() => client.close());
    await assert.rejects(client.request({ room: 'lobby' }), rejectsWith('BROKER_UNREACHABLE'));
  });

  test('a socket closing under pending requests fails them; the next request reconnects', async (t) => {
    let drop = true;
    const { server, client } = await broker(t, (socket, msg) => {
      if (drop) socket.terminate();
      else send(socket, assigned(msg.id, msg.room));
    });
    await assert.rejects(client.request({ room: 'lobby' }), rejectsWith('BROKER_UNREACHABLE'));
    drop = false;
    assert.equal((await client.request({ room: 'lobby' })).room, 'lobby');
    assert.equal(server.sockets.length, 2);
  });

  test('close() fails pending requests with ABORTED and refuses new ones', async (t) => {
    const { server, client } = await broker(t, () => {});
    const pending = client.request({ room: 'lobby' });
    await server.message((msg) => msg.type === 'session.request');
    client.close();
    await assert.rejects(pending, rejectsWith('ABORTED'));
    await assert.rejects(client.request({ room: 'lobby' }), rejectsWith('ABORTED'));
  });

  test('EXCLUDE_MAX is the protocol limit', () => {
    assert.equal(EXCLUDE_MAX, Limits.excludeMax);
  });
});
