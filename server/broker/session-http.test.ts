// Session requests over HTTP (POST /v1/sessions) and the raw HTTP edge: the catalogue's error
// shape and status, upgrade refusals, malformed requests, trustProxy, the origin allowlist.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { Limits } from '../../shared/protocol/common.ts';
import { FakeMedia, getJson, openSocket, postJson, SessionClient, startBroker } from './testing/harness.ts';

describe('session requests over HTTP', () => {
  const request = (fields: Record<string, unknown> = {}) => ({
    type: 'session.request',
    v: 1,
    id: 'h1',
    room: 'lobby',
    ...fields,
  });

  test('POST /v1/sessions answers session.assigned', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const { status, body } = await postJson(tb.http('/v1/sessions'), request());
    assert.equal(status, 200);
    assert.equal(body.type, 'session.assigned');
    assert.equal(body.id, 'h1');
    assert.deepEqual(body.server, { id: 'm1', url: 'ws://127.0.0.1:9/m1' });
    assert.equal((body.client as { address: string }).address, '127.0.0.1');
    // text/plain works too: browsers use it to skip the CORS preflight.
    const plain = await fetch(tb.http('/v1/sessions'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify(request({ id: 'h2' })),
    });
    assert.equal(plain.status, 200);
  });

  test('errors have the wire shape and the catalogue status', async (t) => {
    const tb = await startBroker(t);
    const url = tb.http('/v1/sessions');
    const cases: Array<[unknown, number, string, string | null]> = [
      ['{"type":', 400, 'BAD_JSON', null],
      [request({ room: undefined }), 400, 'BAD_MESSAGE', 'h1'],
      [request({ room: 'bad room!' }), 400, 'BAD_MESSAGE', 'h1'],
      [request({ type: 'nope' }), 400, 'UNKNOWN_TYPE', 'h1'],
      [request({ v: 7 }), 400, 'UNSUPPORTED_VERSION', 'h1'],
      [[1, 2], 400, 'BAD_MESSAGE', null],
      ['{"type":"session.request","v":1,"id":"h1","room":"a","__proto__":{"x":1}}', 400, 'BAD_MESSAGE', 'h1'],
      [request({ name: 'x'.repeat(Limits.brokerFrameBytes) }), 413, 'FRAME_TOO_LARGE', null],
      [request(), 503, 'NO_SERVER_AVAILABLE', 'h1'],
    ];
    for (const [body, status, code, id] of cases) {
      const response = await postJson(url, body);
      assert.equal(response.status, status, `${code}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.type, 'error');
      assert.equal(response.body.code, code);
      assert.equal(response.body.id, id);
      assert.deepEqual(
        Object.keys(response.body).sort(),
        ['code', 'id', 'message', 'type', 'v']
          .concat(code === 'UNSUPPORTED_VERSION' ? ['supported'] : [])
          .sort(),
      );
    }
  });

  test('unknown routes and methods: NOT_FOUND in the same shape, no stack', async (t) => {
    const tb = await startBroker(t);
    for (const [method, path] of [
      ['GET', '/nope'],
      ['DELETE', '/v1/sessions'],
      ['GET', '/v1/session'],
      ['GET', '/admin/v1/servers'],
    ] as const) {
      const response = await fetch(tb.http(path), { method });
      const text = await response.text();
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal((JSON.parse(text) as { code: string }).code, 'NOT_FOUND');
      assert.doesNotMatch(text, /at .*\.(ts|js)|statusCode|FST_/);
    }
  });

  test('WebSocket upgrades (routed beside Fastify): refusals in the catalogue shape, queries ignored', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const exchange = async (head: string): Promise<{ status: number; body: string }> => {
      const socket = connect(tb.broker.port, '127.0.0.1');
      t.after(() => socket.destroy());
      let response = '';
      socket.on('data', (chunk) => {
        response += chunk.toString('utf8');
        if (response.startsWith('HTTP/1.1 101')) socket.destroy();
      });
      const ended = new Promise((resolve) => socket.once('close', resolve));
      socket.write(
        `${head}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await ended;
      return {
        status: Number(response.slice(9, 12)),
        body: response.slice(response.indexOf('\r\n\r\n') + 4),
      };
    };
    const code = (body: string): string => (JSON.parse(body) as { code: string }).code;
    const unknown = await exchange('GET /v1/nowhere HTTP/1.1\r\nHost: x');
    assert.deepEqual([unknown.status, code(unknown.body)], [404, 'NOT_FOUND']);
    const hostless = await exchange('GET /v1/session HTTP/1.1');
    assert.deepEqual([hostless.status, code(hostless.body)], [400, 'BAD_MESSAGE']);
    // A refused Origin on the browser route is explained inside the socket (origins.test.ts).
    const foreign = await exchange('GET /v1/session HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example');
    assert.equal(foreign.status, 101);
    const control = await exchange('GET /v1/control HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example');
    assert.deepEqual([control.status, code(control.body)], [403, 'FORBIDDEN_ORIGIN']);
    assert.equal((await exchange('GET /v1/session?sdk=1 HTTP/1.1\r\nHost: x')).status, 101);
    const session = await SessionClient.open(t, tb);
    assert.equal((await session.request({ room: 'lobby' })).type, 'session.assigned');
  });

  test('malformed HTTP gets the same error shape on the raw socket', async (t) => {
    const tb = await startBroker(t);
    const socket = connect(tb.broker.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let response = '';
    socket.on('data', (chunk) => {
      response += chunk.toString('utf8');
    });
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    await ended;
    assert.match(response, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { code: string };
    assert.equal(body.code, 'BAD_MESSAGE');
    assert.equal((await getJson(tb.http('/healthz'))).status, 200);
  });

  test('trustProxy takes the address from X-Forwarded-For, and only then', async (t) => {
    const trusting = await startBroker(t, { trustProxy: true });
    const plain = await startBroker(t);
    await FakeMedia.connect(t, trusting, 'm1');
    await FakeMedia.connect(t, plain, 'm1');
    const headers = { 'x-forwarded-for': '203.0.113.9' };
    const behind = await postJson(trusting.http('/v1/sessions'), request(), headers);
    assert.deepEqual(behind.body.client, { address: '203.0.113.9' });
    const direct = await postJson(plain.http('/v1/sessions'), request(), headers);
    assert.equal((direct.body.client as { address: string }).address, '127.0.0.1');
    // The proxy appends the address it saw; what the client wrote before it is not trusted.
    const spoofed = await postJson(trusting.http('/v1/sessions'), request(), {
      'x-forwarded-for': '198.51.100.66, 203.0.113.9',
    });
    assert.deepEqual(spoofed.body.client, { address: '203.0.113.9' });
    // The WebSocket upgrade (routed beside Fastify) reads the same header the same way.
    const overWs = await SessionClient.open(t, trusting, {
      headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.9' },
    });
    assert.deepEqual((await overWs.request({ room: 'lobby' })).client, { address: '203.0.113.9' });
    const twoHops = await startBroker(t, { trustProxy: 2 });
    await FakeMedia.connect(t, twoHops, 'm1');
    const second = await SessionClient.open(t, twoHops, {
      headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.9, 10.0.0.2' },
    });
    assert.deepEqual((await second.request({ room: 'lobby' })).client, { address: '203.0.113.9' });
    const directWs = await SessionClient.open(t, plain, { headers });
    assert.equal(
      ((await directWs.request({ room: 'lobby' })).client as { address: string }).address,
      '127.0.0.1',
    );
  });

  test('origin allowlist: refused upgrade and POST for a foreign origin, CORS for an allowed one', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['http://app.example'] });
    await FakeMedia.connect(t, tb, 'm1');
    const refused = await openSocket(t, tb.ws('/v1/session'), { origin: 'http://evil.example' });
    assert.equal((await refused.next()).code, 'FORBIDDEN_ORIGIN');
    assert.equal((await refused.closed).code, 4403);
    const allowed = await SessionClient.open(t, tb, { origin: 'http://app.example' });
    assert.equal((await allowed.request({ room: 'lobby' })).type, 'session.assigned');
    const sameHost = await SessionClient.open(t, tb, { origin: tb.broker.url });
    assert.equal((await sameHost.request({ room: 'lobby' })).type, 'session.assigned');

    const foreign = await postJson(tb.http('/v1/sessions'), request(), { origin: 'http://evil.example' });
    assert.deepEqual([foreign.status, foreign.body.code], [403, 'FORBIDDEN_ORIGIN']);
    const ok = await postJson(tb.http('/v1/sessions'), request(), { origin: 'http://app.example' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://app.example');
    const preflight = await fetch(tb.http('/v1/sessions'), {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  });
});
