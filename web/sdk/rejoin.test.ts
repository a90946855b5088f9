// The retry rules of getting into a room (rejoin.ts through UsherSession), against fake brokers
// and media servers on real sockets: transient broker answers retried on the first join,
// RATE_LIMITED's retryAfterMs (fake clock), permanent errors, the broker URL list, a failover
// that finds every server dead, and leave() cancelling a wait.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { WebSocket } from 'ws';
import type { UsherClientError } from './errors.ts';
import type { ReconnectPolicy } from './reconnect-policy.ts';
import type { RetryingEvent } from './rejoin.ts';
import { type SessionState, UsherSession, type UsherSessionOptions } from './session.ts';
import { FakeClock } from './testing/fake-clock.ts';
import {
  closedPort,
  NodeWebSocket,
  nextEvent,
  send,
  startServer,
  type TestServer,
  waitFor,
} from './testing/ws-server.ts';

const PING = { intervalMs: 50, timeoutMs: 400 };

async function media(t: TestContext, id: string): Promise<TestServer> {
  return startServer(t, (socket, msg) => {
    if (msg.type === 'join') {
      send(socket, { type: 'joined', v: 1, room: msg.room, server: { id }, peerId: 'peer-a', peers: [] });
    } else if (msg.type === 'ping') {
      send(socket, { type: 'pong', v: 1, seq: msg.seq });
    }
  });
}

function assignment(msg: Record<string, unknown>, server: { id: string; url: string }) {
  return {
    type: 'session.assigned',
    v: 1,
    id: msg.id,
    sessionId: 'peer-a',
    room: msg.room,
    server,
    ticket: 'ticket:peer-a',
    ticketExpiresAt: Date.now() + 30_000,
    ping: PING,
    iceServers: [],
    client: { address: '127.0.0.1', port: 40000 },
  };
}

function refusal(msg: Record<string, unknown>, code: string, retryAfterMs?: number) {
  return { type: 'error', v: 1, id: msg.id, code, message: code.toLowerCase(), retryAfterMs };
}

async function brokerServer(
  t: TestContext,
  answer: (msg: Record<string, unknown>, n: number) => unknown,
): Promise<TestServer> {
  let n = 0;
  return startServer(t, (socket: WebSocket, msg) => {
    n += 1;
    const reply = answer(msg, n);
    if (reply !== null) send(socket, reply);
  });
}

const requests = (broker: TestServer) => broker.received.map((entry) => entry.msg);

function session(t: TestContext, options: Partial<UsherSessionOptions> & { policy?: ReconnectPolicy }) {
  const { policy, ...rest } = options;
  const s = new UsherSession({
    room: 'lobby',
    name: 'Ada',
    WebSocket: NodeWebSocket,
    reconnectPolicy: policy ?? { nextRetryDelayMs: ({ elapsedMs }) => (elapsedMs > 1500 ? null : 5) },
    ...rest,
  });
  const retries: RetryingEvent[] = [];
  const warnings: UsherClientError[] = [];
  const errors: UsherClientError[] = [];
  const states: SessionState[] = [];
  s.on('retrying', (event) => retries.push(event));
  s.on('warning', (error) => warnings.push(error));
  s.on('error', (error) => errors.push(error));
  s.on('state', (state) => states.push(state));
  t.after(() => s.leave());
  return { s, retries, warnings, errors, states };
}

/** Let socket I/O and promise chains run (fake-clock tests; no time passes on the clock). */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

describe('rejoin: retries', () => {
  test('the first join is retried after NO_SERVER_AVAILABLE and INTERNAL, with a retrying event each', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg, n) => {
      if (n === 1) return refusal(msg, 'NO_SERVER_AVAILABLE');
      if (n === 2) return refusal(msg, 'INTERNAL');
      return assignment(msg, { id: 'm1', url: m1.url });
    });
    const { s, retries, warnings, states } = session(t, { brokerUrl: broker.url });
    await s.join();
    assert.equal(s.state, 'joined');
    assert.equal(s.serverId, 'm1');
    assert.equal(requests(broker).length, 3);
    assert.deepEqual(
      retries.map(({ kind, attempt, delayMs, code }) => ({ kind, attempt, delayMs, code })),
      [
        { kind: 'join', attempt: 0, delayMs: 5, code: 'NO_SERVER_AVAILABLE' },
        { kind: 'join', attempt: 1, delayMs: 5, code: 'INTERNAL' },
      ],
    );
    assert.equal(retries[0]?.error?.code, 'NO_SERVER_AVAILABLE');
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['NO_SERVER_AVAILABLE', 'INTERNAL'],
    );
    assert.deepEqual(states, ['requesting', 'connecting', 'joined']);
  });

  test('RATE_LIMITED: the next request waits retryAfterMs even when the policy says less', async (t) => {
    const clock = new FakeClock();
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg, n) =>
      n === 1 ? refusal(msg, 'RATE_LIMITED', 750) : assignment(msg, { id: 'm1', url: m1.url }),
    );
    const { s } = session(t, {
      brokerUrl: broker.url,
      clock,
      policy: { nextRetryDelayMs: () => 5 },
    });
    const retrying = nextEvent<[RetryingEvent]>(s, 'retrying');
    const joined = s.join();
    const [event] = await retrying;
    assert.deepEqual(
      { attempt: event.attempt, delayMs: event.delayMs, code: event.code },
      {
        attempt: 0,
        delayMs: 750,
        code: 'RATE_LIMITED',
      },
    );
    clock.tick(749);
    await settle();
    assert.equal(requests(broker).length, 1, 'no second request before retryAfterMs');
    clock.tick(1);
    await broker.message((msg) => msg.id === 'r2');
    await joined;
    assert.equal(s.state, 'joined');
  });

  test('a permanent error ends the first join at once: no retrying event, one request', async (t) => {
    const broker = await brokerServer(t, (msg) => refusal(msg, 'FORBIDDEN_ORIGIN'));
    const { s, retries } = session(t, { brokerUrl: broker.url });
    await assert.rejects(s.join(), (error: UsherClientError) => {
      assert.equal(error.code, 'FORBIDDEN_ORIGIN');
      assert.equal(error.retry, 'never');
      return true;
    });
    assert.deepEqual(retries, []);
    assert.equal(requests(broker).length, 1);
    assert.equal(s.state, 'idle');
  });

  test('an unreachable first broker URL: the next attempt goes to the second', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.url }));
    const dead = `ws://127.0.0.1:${await closedPort()}/v1/session`;
    const { s, retries } = session(t, { brokerUrls: [dead, broker.url] });
    await s.join();
    assert.equal(s.serverId, 'm1');
    assert.deepEqual(
      retries.map((event) => event.code),
      ['BROKER_UNREACHABLE'],
    );
    assert.equal(requests(broker).length, 1);
  });

  test('a broker that does not answer (TIMEOUT) hands over to the next URL too; brokerUrl is tried first', async (t) => {
    const m1 = await media(t, 'm1');
    const silent = await brokerServer(t, () => null);
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.url }));
    const { s, retries } = session(t, {
      brokerUrl: silent.url,
      brokerUrls: [broker.url],
      brokerTimeoutMs: 100,
    });
    await s.join();
    assert.deepEqual(
      retries.map((event) => event.code),
      ['TIMEOUT'],
    );
    assert.equal(requests(silent).length, 1);
    assert.equal(requests(broker).length, 1);
  });

  test('a failover that finds every server dead: retrying with each reason, then GAVE_UP naming the last error', async (t) => {
    const m1 = await media(t, 'm1');
    const deadUrls = [await closedPort(), await closedPort()].map((port) => `ws://127.0.0.1:${port}/`);
    const broker = await brokerServer(t, (msg, n) => {
      if (n === 1) return assignment(msg, { id: 'm1', url: m1.url });
      if (n === 2) return assignment(msg, { id: 'm2', url: deadUrls[0]! });
      if (n === 3) return assignment(msg, { id: 'm3', url: deadUrls[1]! });
      return refusal(msg, 'NO_SERVER_AVAILABLE');
    });
    const fourTries: ReconnectPolicy = { nextRetryDelayMs: ({ attempt }) => (attempt < 4 ? 5 : null) };
    const { s, retries, errors, states } = session(t, { brokerUrl: broker.url, policy: fourTries });
    await s.join();
    await m1.close();
    await waitFor(() => s.state === 'closed', 'the session to give up');
    assert.deepEqual(
      retries.map(({ kind, attempt, code }) => ({ kind, attempt, code })),
      [
        { kind: 'failover', attempt: 0, code: 'closed' },
        { kind: 'failover', attempt: 1, code: 'MEDIA_UNREACHABLE' },
        { kind: 'failover', attempt: 2, code: 'MEDIA_UNREACHABLE' },
        { kind: 'failover', attempt: 3, code: 'NO_SERVER_AVAILABLE' },
      ],
    );
    assert.equal(retries[0]?.error, null);
    const sent = requests(broker);
    assert.equal(sent.length, 5);
    assert.deepEqual(sent[4]?.exclude, ['m1', 'm2', 'm3'], 'every dead server excluded');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'GAVE_UP');
    assert.match(errors[0]!.message, /gave up reconnecting after \d+ ms; last error NO_SERVER_AVAILABLE/);
    assert.equal((errors[0]!.cause as UsherClientError).code, 'NO_SERVER_AVAILABLE');
    assert.deepEqual(states.slice(-2), ['reconnecting', 'closed'], 'reconnecting throughout, then closed');
  });

  test('the first join gives up per the policy too: GAVE_UP, state idle', async (t) => {
    const broker = await brokerServer(t, (msg) => refusal(msg, 'NO_SERVER_AVAILABLE'));
    const twice: ReconnectPolicy = { nextRetryDelayMs: ({ attempt }) => (attempt < 2 ? 5 : null) };
    const { s, retries } = session(t, { brokerUrl: broker.url, policy: twice });
    await assert.rejects(s.join(), (error: UsherClientError) => {
      assert.equal(error.code, 'GAVE_UP');
      assert.match(error.message, /^gave up joining after \d+ ms; last error NO_SERVER_AVAILABLE/);
      return true;
    });
    assert.equal(retries.length, 2);
    assert.equal(requests(broker).length, 3);
    assert.equal(s.state, 'idle');
  });

  test('leave() cancels a pending retry: join rejects ABORTED, no request and no timer left', async (t) => {
    const clock = new FakeClock();
    const broker = await brokerServer(t, (msg) => refusal(msg, 'NO_SERVER_AVAILABLE'));
    const { s } = session(t, {
      brokerUrl: broker.url,
      clock,
      policy: { nextRetryDelayMs: () => 30_000 },
    });
    const retrying = nextEvent<[RetryingEvent]>(s, 'retrying');
    const joined = s.join();
    const [event] = await retrying;
    assert.equal(event.delayMs, 30_000);
    s.leave();
    await assert.rejects(joined, (error: UsherClientError) => error.code === 'ABORTED');
    assert.equal(s.state, 'closed');
    assert.equal(clock.pending, 0, 'the wait is cancelled, not left to fire');
    clock.tick(60_000);
    await settle();
    assert.equal(requests(broker).length, 1);
  });
});
