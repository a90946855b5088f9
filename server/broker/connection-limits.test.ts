// The broker's connection limits with real sockets on loopback: per-address and total caps on
// session sockets (another address and a media server still get in), the idle rule, large
// registers refused before they are decoded, the control path's per-address limits, bounded
// refusal logs, and the HTTP header timeout. Each asserts its metric.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { signControlToken } from '../common/tickets.ts';
import { ConnectionCounter, defaultMaxSessionSockets, openFileLimit } from './connection-limits.ts';
import { TOKEN_FIRST_BYTES } from './control-socket.ts';
import {
  FakeMedia,
  getJson,
  type Json,
  keys,
  openSocket,
  registerMessage,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from './testing/harness.ts';

/** The value of one series on /metrics (0 when it has not been written yet). */
async function metric(tb: TestBroker, series: string): Promise<number> {
  const text = await (await fetch(tb.http('/metrics'))).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

type Attempt = { opened: true; socket: WebSocket } | { opened: false; status: number; body: Json };

/** One upgrade from `localAddress`: the open socket (terminated after the test) or the refusal. */
function attempt(t: TestContext, url: string, localAddress = '127.0.0.1'): Promise<Attempt> {
  const socket = new WebSocket(url, { localAddress });
  t.after(() => socket.terminate());
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ opened: true, socket }));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      response.on('end', () =>
        resolve({ opened: false, status: response.statusCode ?? 0, body: JSON.parse(text) as Json }),
      );
    });
  });
}

const PER_ADDRESS = 'usher_broker_connections_refused_total{route="session",limit="per-address"}';
const TOTAL = 'usher_broker_connections_refused_total{route="session",limit="total"}';

describe('session socket caps', () => {
  test('one address is capped (429 TOO_MANY_CONNECTIONS); another address and a media server still get in', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { sessionSocketsPerAddress: 50 } });
    const held: WebSocket[] = [];
    for (let index = 0; index < 50; index++) {
      const result = await attempt(t, tb.ws('/v1/session'));
      assert.equal(result.opened, true, `socket ${index} opened`);
      if (result.opened) held.push(result.socket);
    }
    const refused = await attempt(t, tb.ws('/v1/session'));
    assert.equal(refused.opened, false);
    if (!refused.opened) {
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, 'TOO_MANY_CONNECTIONS');
    }
    assert.equal(await metric(tb, PER_ADDRESS), 1);
    assert.equal(await metric(tb, 'usher_broker_session_connections'), 50);

    await FakeMedia.connect(t, tb, 'm1');
    const other = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
    const assigned = await other.request({ room: 'lobby' });
    assert.equal(assigned.type, 'session.assigned');
    assert.equal((await getJson(tb.http('/healthz'))).status, 200);

    // A closed socket gives its address a place back.
    held[0]!.close();
    await waitFor(
      'the count to drop',
      async () => (await metric(tb, 'usher_broker_session_connections')) === 50,
    );
    assert.equal((await attempt(t, tb.ws('/v1/session'))).opened, true);
  });

  test('at scale: 20,000 upgrades from one address against the default cap leave exactly 1,000 open; another address and a media server still get in', async (t) => {
    const tb = await startBroker(t);
    const started = performance.now();
    let opened = 0;
    let refused = 0;
    // In batches, so the test process holds at most the 1,000 admitted sockets plus one batch.
    for (let batch = 0; batch < 40; batch++) {
      const results = await Promise.all(Array.from({ length: 500 }, () => attempt(t, tb.ws('/v1/session'))));
      for (const result of results) {
        if (result.opened) opened++;
        else if (result.body.code === 'TOO_MANY_CONNECTIONS') refused++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`20,000 upgrades in ${seconds.toFixed(2)} s`);
    assert.equal(opened, 1000);
    assert.equal(refused, 19_000);
    assert.equal(await metric(tb, PER_ADDRESS), 19_000);
    await FakeMedia.connect(t, tb, 'm1', { heartbeatMs: 200 });
    const other = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
    const answer = await other.request({ room: 'lobby' });
    assert.equal(answer.type, 'session.assigned', JSON.stringify(answer));
    assert.equal((await getJson(tb.http('/healthz'))).status, 200);
  });

  test('the total cap refuses every address, but a media server still registers and /healthz answers', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { maxSessionSockets: 20 } });
    for (let index = 0; index < 20; index++)
      assert.equal((await attempt(t, tb.ws('/v1/session'), `127.0.0.${2 + (index % 5)}`)).opened, true);
    const refused = await attempt(t, tb.ws('/v1/session'), '127.0.0.9');
    assert.equal(refused.opened ? 'opened' : refused.body.code, 'TOO_MANY_CONNECTIONS');
    assert.equal(await metric(tb, TOTAL), 1);
    await FakeMedia.connect(t, tb, 'm1');
    assert.equal((await getJson(tb.http('/healthz'))).body.servers, 1);
  });

  test('the default total cap is the open-file limit less the reserve', () => {
    assert.equal(defaultMaxSessionSockets(20_000, 1024), 18_976);
    assert.equal(defaultMaxSessionSockets(undefined), 20_000);
    assert.equal(defaultMaxSessionSockets(512), 64);
    assert.equal(
      openFileLimit(
        () =>
          'Limit  Soft Limit  Hard Limit  Units\nMax open files            4096                 524288               files\n',
      ),
      4096,
    );
    assert.equal(
      openFileLimit(() => {
        throw new Error('no /proc');
      }),
      undefined,
    );
  });

  test('IPv6 addresses are counted by their /64', () => {
    const counter = new ConnectionCounter(2, 100);
    assert.equal(counter.tryOpen(ConnectionCounter.key('2001:db8:1:2::1')), undefined);
    assert.equal(counter.tryOpen(ConnectionCounter.key('2001:db8:1:2:ffff::9')), undefined);
    assert.equal(counter.tryOpen(ConnectionCounter.key('2001:db8:1:2::77')), 'per-address');
    assert.equal(counter.tryOpen(ConnectionCounter.key('2001:db8:1:3::1')), undefined);
    counter.close(ConnectionCounter.key('2001:db8:1:2::1'));
    assert.equal(counter.tryOpen(ConnectionCounter.key('2001:db8:1:2::5')), undefined);
    assert.equal(counter.size, 3);
  });
});

describe('idle session sockets', () => {
  test('a socket that only answers and sends pings is closed with 4408 IDLE_TIMEOUT; one that requests is kept', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { sessionIdleTimeoutMs: 400 } });
    await FakeMedia.connect(t, tb, 'm1');
    const idle = await openSocket(t, tb.ws('/v1/session'));
    const pinging = setInterval(() => idle.socket.ping(), 50);
    t.after(() => clearInterval(pinging));
    const busy = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
    const requesting = setInterval(() => busy.send({ room: 'lobby' }), 100);
    t.after(() => clearInterval(requesting));
    const started = performance.now();
    const closed = await idle.closed;
    const after = performance.now() - started;
    clearInterval(pinging);
    assert.equal(closed.code, 4408);
    assert.ok(after >= 350 && after < 2000, `closed after ${after} ms`);
    assert.equal((await idle.next()).code, 'IDLE_TIMEOUT');
    assert.equal(busy.inbox.socket.readyState, WebSocket.OPEN);
    assert.equal(await metric(tb, 'usher_broker_session_idle_closed_total'), 1);
  });
});

describe('control channel limits', () => {
  test('a large register is refused UNAUTHORIZED on its token before its room list is decoded', async (t) => {
    const tb = await startBroker(t);
    // Room entries that the schema refuses: decoding first would answer BAD_MESSAGE.
    const rooms = Array.from({ length: 30_000 }, (_, index) => ({ room: `r${index}`, peers: -1 }));
    const frame = JSON.stringify({ ...registerMessage('m1', 'not-a-token'), rooms });
    assert.ok(frame.length > 800_000 && frame.length < 1024 * 1024, `${frame.length} bytes`);
    const inbox = await openSocket(t, tb.ws('/v1/control'));
    inbox.send(frame);
    assert.equal((await inbox.next()).code, 'UNAUTHORIZED');
    assert.equal((await inbox.closed).code, 4401);
    // Without a token that the scan can read, a large frame is refused the same way.
    const anonymous = await openSocket(t, tb.ws('/v1/control'));
    anonymous.send(JSON.stringify({ type: 'register', rooms, pad: 'x'.repeat(TOKEN_FIRST_BYTES) }));
    assert.equal((await anonymous.next()).code, 'UNAUTHORIZED');
    assert.equal(await metric(tb, 'usher_broker_control_rejected_total{code="UNAUTHORIZED"}'), 2);

    // A valid server with a large room list still registers, its rooms restored.
    const names = Array.from({ length: 5000 }, (_, index) => `room-${index}`);
    const good = await openSocket(t, tb.ws('/v1/control'));
    good.send(registerMessage('m2', await signControlToken(keys, 'm2'), { rooms: names }));
    assert.equal((await good.next()).type, 'registered');
    assert.ok(JSON.stringify(registerMessage('m2', 'x', { rooms: names })).length > TOKEN_FIRST_BYTES);
    assert.equal((await getJson(tb.http('/healthz'))).body.rooms, 5000);
  });

  test('new control connections are rate-limited per address (429 RATE_LIMITED); another address gets in', async (t) => {
    const tb = await startBroker(t, {
      connectionLimits: { controlConnectsPerMinute: 6, controlConnectBurst: 3 },
    });
    for (let index = 0; index < 3; index++)
      assert.equal((await attempt(t, tb.ws('/v1/control'))).opened, true);
    const refused = await attempt(t, tb.ws('/v1/control'));
    assert.equal(refused.opened ? 'opened' : `${refused.status} ${refused.body.code}`, '429 RATE_LIMITED');
    assert.equal(await metric(tb, 'usher_broker_connections_refused_total{route="control",limit="rate"}'), 1);
    assert.equal((await attempt(t, tb.ws('/v1/control'), '127.0.0.2')).opened, true);
  });

  test('open control sockets are capped per address (429 TOO_MANY_CONNECTIONS)', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { controlSocketsPerAddress: 2 } });
    await FakeMedia.connect(t, tb, 'm1');
    assert.equal((await attempt(t, tb.ws('/v1/control'))).opened, true);
    const refused = await attempt(t, tb.ws('/v1/control'));
    assert.equal(
      refused.opened ? 'opened' : `${refused.status} ${refused.body.code}`,
      '429 TOO_MANY_CONNECTIONS',
    );
    assert.equal(
      await metric(tb, 'usher_broker_connections_refused_total{route="control",limit="per-address"}'),
      1,
    );
    assert.equal(await metric(tb, 'usher_broker_control_connections'), 2);
  });

  test('refused registrations are each counted but logged at a bounded rate', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { controlConnectBurst: 1000 } });
    const refusals = 30;
    await Promise.all(
      Array.from({ length: refusals }, async (_, index) => {
        const inbox = await openSocket(t, tb.ws('/v1/control'));
        inbox.send(registerMessage(`m${index}`, 'bad-token'));
        assert.equal((await inbox.next()).code, 'UNAUTHORIZED');
      }),
    );
    assert.equal(await metric(tb, 'usher_broker_control_rejected_total{code="UNAUTHORIZED"}'), refusals);
    const lines = tb.logged('control connection refused');
    assert.ok(lines.length >= 1 && lines.length <= 11, `${lines.length} log lines`);
  });
});

describe('HTTP timeouts', () => {
  test('headers not finished in time: 408 with the catalogue IDLE_TIMEOUT body', async (t) => {
    const tb = await startBroker(t, { connectionLimits: { headersTimeoutMs: 300, requestTimeoutMs: 1000 } });
    const socket = connect(tb.broker.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
    });
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = performance.now();
    await ended;
    const after = performance.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Json).code, 'IDLE_TIMEOUT');
    assert.ok(after < 3000, `answered after ${after} ms`);
    assert.equal(await metric(tb, 'usher_broker_http_client_errors_total{code="IDLE_TIMEOUT"}'), 1);
  });
});
