// The broker over real sockets on 127.0.0.1:0: media servers register on the control
// channel, browsers ask for sessions over WebSocket and HTTP, bad input gets typed
// errors, lost servers are dropped and their rooms move.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { Limits } from '../../shared/protocol/common.ts';
import { parseSecret } from '../common/keys.ts';
import { signControlToken, signTicket, verifyTicket } from '../common/tickets.ts';
import { DEFAULT_RESUME_TTL_SECONDS } from './index.ts';
import { MemoryPinStore, type Pin } from './pin-store.ts';
import { SESSION_SOCKET_MAX_PAYLOAD } from './session-routes.ts';
import {
  FakeMedia,
  getJson,
  keys,
  openSocket,
  postFrom,
  postJson,
  registerMessage,
  SECRET,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from './test-support.ts';

const healthy = async (tb: TestBroker) => (await getJson(tb.http('/healthz'))).body.servers as number;

describe('control channel', () => {
  test('a valid registration is accepted and counted', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 200, timeoutMs: 1000 } });
    const inbox = await openSocket(t, tb.ws('/v1/control'));
    inbox.send(registerMessage('m1', await signControlToken(keys, 'm1')));
    assert.deepEqual(await inbox.next(), {
      type: 'registered',
      v: 1,
      heartbeat: { intervalMs: 200, timeoutMs: 1000 },
    });
    assert.deepEqual((await getJson(tb.http('/healthz'))).body, { status: 'ok', servers: 1, rooms: 0 });
    const [line] = tb.logged('media server registered');
    assert.equal(line?.id, 'm1');
    assert.equal(line?.url, 'ws://127.0.0.1:9/m1');
  });

  const refusals: Array<[string, (token: string, other: string) => unknown, string, number]> = [
    ['a forged token', () => registerMessage('m1', 'not-a-jwt'), 'UNAUTHORIZED', 4401],
    ["another server's token", (_token, other) => registerMessage('m1', other), 'UNAUTHORIZED', 4401],
    [
      'an unparsable URL',
      (token) => registerMessage('m1', token, { url: 'ws://[::1' }),
      'BAD_SERVER_URL',
      4400,
    ],
    [
      'an http URL (schema)',
      (token) => registerMessage('m1', token, { url: 'http://h/' }),
      'BAD_MESSAGE',
      4400,
    ],
    [
      'a URL with credentials',
      (token) => registerMessage('m1', token, { url: 'ws://user:pw@127.0.0.1:9/m' }),
      'BAD_SERVER_URL',
      4400,
    ],
    [
      'a load before register',
      () => ({ type: 'load', v: 1, peers: 0, rooms: 0, draining: false, opened: [], closed: [] }),
      'NOT_REGISTERED',
      4400,
    ],
    ['an unknown first message', () => ({ type: 'hello', v: 1 }), 'NOT_REGISTERED', 4400],
    ['bad JSON first', () => '{nope', 'BAD_JSON', 4400],
    ['a register missing fields', () => ({ type: 'register', v: 1, id: 'm1' }), 'BAD_MESSAGE', 4400],
  ];
  for (const [what, message, code, closeCode] of refusals) {
    test(`${what} ⇒ ${code} and close ${closeCode}`, async (t) => {
      const tb = await startBroker(t);
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      inbox.send(message(await signControlToken(keys, 'm1'), await signControlToken(keys, 'm2')) as object);
      const reply = await inbox.next();
      assert.equal(reply.type, 'error');
      assert.equal(reply.code, code);
      assert.equal((await inbox.closed).code, closeCode);
      assert.equal(await healthy(tb), 0);
    });
  }

  test('an id held by a live registration ⇒ ID_IN_USE and close 4409; the holder keeps it', async (t) => {
    const tb = await startBroker(t);
    const first = await FakeMedia.connect(t, tb, 'm1');
    const second = await openSocket(t, tb.ws('/v1/control'));
    second.send(registerMessage('m1', await signControlToken(keys, 'm1'), { url: 'ws://127.0.0.1:10/x' }));
    assert.equal((await second.next()).code, 'ID_IN_USE');
    assert.equal((await second.closed).code, 4409);
    assert.equal(first.inbox.socket.readyState, WebSocket.OPEN);
    const client = await SessionClient.open(t, tb);
    assert.deepEqual((await client.request({ room: 'lobby' })).server, {
      id: 'm1',
      url: 'ws://127.0.0.1:9/m1',
    });
  });

  test('after registration, bad frames get an error and the channel stays up', async (t) => {
    const tb = await startBroker(t);
    const media = await FakeMedia.connect(t, tb, 'm1');
    media.inbox.send('{nope');
    assert.equal((await media.inbox.next()).code, 'BAD_JSON');
    media.inbox.send(registerMessage('m1', await signControlToken(keys, 'm1')));
    assert.equal((await media.inbox.next()).code, 'BAD_MESSAGE');
    media.load({ peers: 3, rooms: 1, opened: ['lobby'] });
    await waitFor('the load report', async () => {
      const servers = await getJson(tb.http('/healthz'));
      return servers.body.rooms === 1;
    });
    assert.equal(media.inbox.socket.readyState, WebSocket.OPEN);
  });

  test('a registration rebuilds the pins of the rooms the server holds (broker restart)', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'busy', { rooms: ['lobby', 'game-1'] });
    await FakeMedia.connect(t, tb, 'idle');
    assert.equal((await getJson(tb.http('/healthz'))).body.rooms, 2);
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'busy');
    assert.equal(((await client.request({ room: 'fresh' })).server as { id: string }).id, 'idle');
  });
});

describe('session requests over WebSocket', () => {
  test('several requests on one connection: same room ⇒ same server, ids echoed', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    await FakeMedia.connect(t, tb, 'm2');
    const client = await SessionClient.open(t, tb);
    const ids = ['a', 'b', 'c'].map((name) => client.send({ room: 'lobby', name }));
    const replies = await Promise.all(ids.map((id) => client.inbox.next((message) => message.id === id)));
    const servers = new Set(replies.map((reply) => (reply.server as { id: string }).id));
    assert.equal(servers.size, 1);
    assert.equal(new Set(replies.map((reply) => reply.sessionId)).size, 3, 'one session id per request');
    const other = await client.request({ room: 'other' });
    assert.ok(!servers.has((other.server as { id: string }).id), 'a new room goes to the less loaded server');
  });

  test('the reply carries a ticket for that server and room, ping, ICE and the client address', async (t) => {
    const turn = { urls: ['turn:127.0.0.1:3478?transport=udp'], secret: 'turn-secret-1234', ttlSeconds: 600 };
    const tb = await startBroker(t, {
      ping: { intervalMs: 500, timeoutMs: 1500 },
      iceServers: { stunUrls: ['stun:127.0.0.1:3478'], turn },
    });
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    const before = Date.now();
    const reply = await client.request({ room: 'lobby', name: 'Ada' });
    assert.equal(reply.type, 'session.assigned');
    assert.equal(reply.room, 'lobby');
    const claims = await verifyTicket(keys, reply.ticket as string, 'm1');
    assert.equal(claims.room, 'lobby');
    assert.equal(claims.sessionId, reply.sessionId);
    assert.equal(claims.name, 'Ada');
    const expiresAt = reply.ticketExpiresAt as number;
    assert.ok(expiresAt >= before + 29_000 && expiresAt <= Date.now() + 31_000, `expiry ${expiresAt}`);
    assert.deepEqual(reply.ping, { intervalMs: 500, timeoutMs: 1500 });
    const [stun, relay] = reply.iceServers as Array<Record<string, unknown>>;
    assert.deepEqual(stun, { urls: ['stun:127.0.0.1:3478'] });
    assert.deepEqual(relay?.urls, turn.urls);
    assert.match(relay?.username as string, new RegExp(`^\\d+:${reply.sessionId}$`));
    assert.equal(typeof relay?.credential, 'string');
    const address = reply.client as { address: string; port: number };
    assert.equal(address.address, '127.0.0.1');
    assert.ok(Number.isInteger(address.port) && address.port > 0);
  });

  test('an exclude moves the room for everyone; resume with the last ticket keeps the session id', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    await FakeMedia.connect(t, tb, 'm2');
    const alice = await SessionClient.open(t, tb);
    const bob = await SessionClient.open(t, tb);
    const first = await alice.request({ room: 'lobby' });
    const old = (first.server as { id: string }).id;
    assert.equal(((await bob.request({ room: 'lobby' })).server as { id: string }).id, old);

    const moved = await alice.request({ room: 'lobby', exclude: [old], resume: first.ticket });
    const target = (moved.server as { id: string }).id;
    assert.notEqual(target, old);
    assert.equal(moved.sessionId, first.sessionId);
    assert.notEqual(moved.ticket, first.ticket, 'a fresh ticket: the next proof');
    assert.equal(
      ((await bob.request({ room: 'lobby', exclude: [old] })).server as { id: string }).id,
      target,
    );
    const carol = await SessionClient.open(t, tb);
    assert.equal(((await carol.request({ room: 'lobby' })).server as { id: string }).id, target);

    const [line] = tb.logged('room moved');
    assert.deepEqual(
      { room: line?.room, from: line?.from, to: line?.to, cause: line?.cause },
      { room: 'lobby', from: old, to: target, cause: 'member' },
    );
    assert.equal(tb.logged('room moved').length, 1);

    const forged = await alice.request({ room: 'lobby', resume: `${String(moved.ticket).slice(0, -2)}xx` });
    assert.equal(forged.code, 'BAD_RESUME');
    // A ticket proves its session only in its own room.
    const elsewhere = await alice.request({ room: 'other', resume: moved.ticket });
    assert.equal(elsewhere.code, 'BAD_RESUME');
    // Past the resume window (24 h by default) a ticket proves nothing.
    const dayOld = signTicket(
      keys,
      { sessionId: first.sessionId as string, room: 'lobby', serverId: target, name: '', ttlSeconds: 30 },
      Date.now() - (DEFAULT_RESUME_TTL_SECONDS + 60) * 1000,
    ).ticket;
    assert.equal((await alice.request({ room: 'lobby', resume: dayOld })).code, 'BAD_RESUME');
    const hourOld = signTicket(
      keys,
      { sessionId: first.sessionId as string, room: 'lobby', serverId: target, name: '', ttlSeconds: 30 },
      Date.now() - 3600_000,
    ).ticket;
    assert.equal((await alice.request({ room: 'lobby', resume: hourOld })).sessionId, first.sessionId);
    assert.equal(tb.logged('room moved').length, 1, 'refused resumes moved nothing');
  });

  test('a ticket signed under a retired key still proves its session', async (t) => {
    // The test secret stays in both rings (last, so it never signs) for FakeMedia's control tokens.
    const media = `${keys.current.kid}:${SECRET}`;
    const before = await startBroker(t, { keys: parseSecret(`k1:${'o'.repeat(32)},${media}`) });
    const after = await startBroker(t, {
      keys: parseSecret(`k2:${'n'.repeat(32)},k1:${'o'.repeat(32)},${media}`),
    });
    await FakeMedia.connect(t, before, 'm1');
    await FakeMedia.connect(t, after, 'm1');
    const kid = (ticket: unknown): unknown =>
      JSON.parse(Buffer.from(String(ticket).split('.')[0]!, 'base64url').toString()).kid;
    const first = await (await SessionClient.open(t, before)).request({ room: 'lobby' });
    assert.equal(kid(first.ticket), 'k1');
    const client = await SessionClient.open(t, after);
    const resumed = await client.request({ room: 'lobby', resume: first.ticket });
    assert.equal(resumed.sessionId, first.sessionId);
    assert.equal(kid(resumed.ticket), 'k2');
    const again = await client.request({ room: 'lobby', resume: resumed.ticket });
    assert.equal(again.sessionId, first.sessionId);
    // A broker that never knew k1 refuses its tickets as proof.
    const stranger = await startBroker(t, { keys: parseSecret(`k3:${'s'.repeat(32)},${media}`) });
    await FakeMedia.connect(t, stranger, 'm1');
    const refused = await (await SessionClient.open(t, stranger)).request({
      room: 'lobby',
      resume: first.ticket,
    });
    assert.equal(refused.code, 'BAD_RESUME');
  });

  test('malformed input gets coded errors and the connection survives', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    client.inbox.send('{not json');
    assert.deepEqual(await client.inbox.next(), {
      type: 'error',
      v: 1,
      id: null,
      code: 'BAD_JSON',
      message: 'message is not valid JSON',
    });
    client.inbox.send({ type: 'session.resume', v: 1, id: 'u1' });
    assert.deepEqual(
      [(await client.inbox.next()).code, client.inbox.messages.at(-1)?.id],
      ['UNKNOWN_TYPE', 'u1'],
    );
    client.inbox.send({ type: 'session.request', v: 1, id: 'm1' });
    const missing = await client.inbox.next();
    assert.equal(missing.code, 'BAD_MESSAGE');
    assert.equal(missing.id, 'm1');
    assert.match(missing.message as string, /room/);
    client.inbox.send({ type: 'session.request', v: 2, id: 'v2', room: 'lobby' });
    const version = await client.inbox.next();
    assert.deepEqual([version.code, version.supported], ['UNSUPPORTED_VERSION', [1]]);
    client.inbox.send({ type: 'session.request', v: 1, id: 'x', room: 'lobby', extra: true });
    assert.equal((await client.inbox.next()).code, 'BAD_MESSAGE');
    client.inbox.socket.send(Buffer.from('{}'), { binary: true });
    assert.equal((await client.inbox.next()).code, 'BAD_MESSAGE');
    assert.equal((await client.request({ room: 'lobby' })).type, 'session.assigned');
  });

  test('an oversized frame ⇒ FRAME_TOO_LARGE then close 1009; others are unaffected', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const bystander = await SessionClient.open(t, tb);
    const client = await SessionClient.open(t, tb);
    client.inbox.send({ type: 'session.request', v: 1, id: 'big', room: 'lobby', name: 'x'.repeat(5000) });
    const reply = await client.inbox.next();
    assert.equal(reply.code, 'FRAME_TOO_LARGE');
    assert.equal((await client.inbox.closed).code, 1009);
    assert.equal((await bystander.request({ room: 'lobby' })).type, 'session.assigned');
    const next = await SessionClient.open(t, tb);
    assert.equal((await next.request({ room: 'lobby' })).type, 'session.assigned');
  });

  test('a frame over what ws reads on the session route is closed with 1009 too', async (t) => {
    const tb = await startBroker(t);
    const client = await SessionClient.open(t, tb);
    client.inbox.send('x'.repeat(SESSION_SOCKET_MAX_PAYLOAD + 1));
    assert.equal((await client.inbox.closed).code, 1009);
    assert.equal((await getJson(tb.http('/healthz'))).status, 200);
  });

  test('more than 4 requests in flight ⇒ TOO_MANY_IN_FLIGHT; the rest are answered', async (t) => {
    const gate = new GatedPinStore();
    const tb = await startBroker(t, { pins: gate });
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    gate.close();
    const ids = Array.from({ length: 6 }, (_, index) => client.send({ room: `room-${index}` }));
    const refused = await Promise.all(
      ids.slice(4).map((id) => client.inbox.next((message) => message.id === id)),
    );
    assert.deepEqual(
      refused.map((reply) => reply.code),
      ['TOO_MANY_IN_FLIGHT', 'TOO_MANY_IN_FLIGHT'],
    );
    gate.open();
    for (const id of ids.slice(0, 4))
      assert.equal((await client.inbox.next((message) => message.id === id)).type, 'session.assigned');
    assert.equal((await client.request({ room: 'later' })).type, 'session.assigned');
  });

  test('no media server ⇒ NO_SERVER_AVAILABLE with the request id', async (t) => {
    const tb = await startBroker(t);
    const client = await SessionClient.open(t, tb);
    const reply = await client.request({ room: 'lobby' });
    assert.equal(reply.code, 'NO_SERVER_AVAILABLE');
    assert.equal(reply.id, 'r1');
  });
});

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
    const foreign = await exchange('GET /v1/session HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example');
    assert.deepEqual([foreign.status, code(foreign.body)], [403, 'FORBIDDEN_ORIGIN']);
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
    await assert.rejects(
      openSocket(t, tb.ws('/v1/session'), { origin: 'http://evil.example' }),
      /unexpected response 403/,
    );
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

describe('origins, CORS and security headers', () => {
  const request = { type: 'session.request', v: 1, id: 'o1', room: 'lobby' };

  test("without an allowlist only the broker's own origin (and non-browser clients) may use it", async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const own = tb.broker.url;
    const sameHost = await SessionClient.open(t, tb, { origin: own });
    assert.equal((await sameHost.request({ room: 'lobby' })).type, 'session.assigned');
    const noOrigin = await SessionClient.open(t, tb);
    assert.equal((await noOrigin.request({ room: 'lobby' })).type, 'session.assigned');
    await assert.rejects(
      openSocket(t, tb.ws('/v1/session'), { origin: 'https://elsewhere.example' }),
      /unexpected response 403/,
    );
    const foreign = await postJson(tb.http('/v1/sessions'), request, { origin: 'https://elsewhere.example' });
    assert.deepEqual([foreign.status, foreign.body.code], [403, 'FORBIDDEN_ORIGIN']);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const ok = await postJson(tb.http('/v1/sessions'), request, { origin: own });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), own);
    assert.match(ok.headers.get('vary') ?? '', /origin/i);
  });

  test('"*" allows any origin and CORS answers *', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['*'] });
    await FakeMedia.connect(t, tb, 'm1');
    const anywhere = await SessionClient.open(t, tb, { origin: 'https://anywhere.example' });
    assert.equal((await anywhere.request({ room: 'lobby' })).type, 'session.assigned');
    const ok = await postJson(tb.http('/v1/sessions'), request, { origin: 'https://anywhere.example' });
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  });

  test('preflight: allowed origin ⇒ 204 with methods, headers, max-age and exposed rate headers; others ⇒ no CORS', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['https://app.example'] });
    const preflight = (origin: string, path = '/v1/sessions') =>
      fetch(tb.http(path), {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight('https://app.example');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(allowed.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(allowed.headers.get('access-control-allow-headers'), 'content-type');
    assert.equal(allowed.headers.get('access-control-max-age'), '600');
    assert.match(allowed.headers.get('access-control-expose-headers') ?? '', /retry-after/);
    for (const [origin, path] of [
      ['https://evil.example', '/v1/sessions'],
      ['https://app.example', '/admin/v1/servers'],
      ['https://app.example', '/metrics'],
    ] as const) {
      const refused = await preflight(origin, path);
      assert.equal(refused.status, 404, `${origin} ${path}`);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      assert.equal(((await refused.json()) as { code: string }).code, 'NOT_FOUND');
    }
  });

  test('pages carry helmet headers with a CSP the app works with; the API routes do not pay for them', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>usher</title>');
    const tb = await startBroker(t, { staticDir: dir });
    for (const path of ['/', '/rooms/lobby', '/missing.js']) {
      const page = await fetch(tb.http(path), { headers: { accept: 'text/html' } });
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/, path);
      assert.match(csp, /connect-src 'self' ws: wss:/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /frame-ancestors 'self'/, path);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'ws:// media URLs must stay ws://');
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN', path);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    }
    const api = await fetch(tb.http('/healthz'));
    assert.equal(api.headers.get('content-security-policy'), null);
  });
});

describe('rate limits', () => {
  const body = (id: string) => ({ type: 'session.request', v: 1, id, room: 'lobby' });

  test('one budget per address across HTTP and WebSocket: 429 + Retry-After over HTTP, RATE_LIMITED with the id over WS', async (t) => {
    const tb = await startBroker(t, { rateLimit: { perMinute: 60, burst: 4 } });
    await FakeMedia.connect(t, tb, 'm1');
    const url = tb.http('/v1/sessions');
    const ws = await SessionClient.open(t, tb);
    const first = await postJson(url, body('h1'));
    assert.equal(first.status, 200);
    assert.deepEqual(
      ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'].map((h) => first.headers.get(h)),
      ['4', '3', '1'],
      'an allowed request is told its budget: 3 left, full again within a second (60/min)',
    );
    assert.equal((await ws.request({ room: 'lobby' })).type, 'session.assigned');
    const third = await postJson(url, body('h2'));
    assert.equal(third.status, 200);
    assert.ok(
      Number(third.headers.get('x-ratelimit-remaining')) <= 1,
      'the WebSocket request drew on it too',
    );
    assert.equal((await ws.request({ room: 'lobby' })).type, 'session.assigned');

    const overWs = await ws.request({ room: 'lobby' });
    assert.equal(overWs.code, 'RATE_LIMITED');
    assert.equal(overWs.id, 'r3', 'the client can match the refusal to its request');
    assert.ok((overWs.retryAfterMs as number) > 0 && (overWs.retryAfterMs as number) <= 1000);

    const overHttp = await postJson(url, body('h3'));
    assert.equal(overHttp.status, 429);
    assert.deepEqual(Object.keys(overHttp.body).sort(), [
      'code',
      'id',
      'message',
      'retryAfterMs',
      'type',
      'v',
    ]);
    assert.equal(overHttp.body.code, 'RATE_LIMITED');
    assert.ok((overHttp.body.retryAfterMs as number) > 0);
    assert.equal(overHttp.headers.get('retry-after'), '1');
    assert.equal(overHttp.headers.get('x-ratelimit-limit'), '4');
    assert.equal(overHttp.headers.get('x-ratelimit-remaining'), '0');

    // Another address has its own budget.
    const other = await postFrom(url, body('o1'), '127.0.0.2');
    assert.equal(other.status, 200);
    const metrics = await (await fetch(tb.http('/metrics'))).text();
    assert.match(
      metrics,
      /^usher_broker_session_requests_total\{transport="http",result="RATE_LIMITED"\} 1$/m,
    );
    assert.match(metrics, /^usher_broker_session_requests_total\{transport="ws",result="RATE_LIMITED"\} 1$/m);
  });

  test('a browser on an allowed origin can read the 429 (CORS headers survive the refusal)', async (t) => {
    const tb = await startBroker(t, {
      rateLimit: { perMinute: 60, burst: 1 },
      allowedOrigins: ['https://app.example'],
    });
    const headers = { origin: 'https://app.example' };
    await postJson(tb.http('/v1/sessions'), body('h1'), headers);
    const refused = await postJson(tb.http('/v1/sessions'), body('h2'), headers);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(refused.headers.get('access-control-expose-headers') ?? '', /retry-after/);
  });

  test('garbage costs budget too, so it cannot be used to probe for free', async (t) => {
    const tb = await startBroker(t, { rateLimit: { perMinute: 60, burst: 2 } });
    const ws = await SessionClient.open(t, tb);
    ws.inbox.send('{nope');
    assert.equal((await ws.inbox.next()).code, 'BAD_JSON');
    assert.equal((await postJson(tb.http('/v1/sessions'), '{nope')).body.code, 'BAD_JSON');
    ws.inbox.send('{nope');
    assert.equal((await ws.inbox.next()).code, 'RATE_LIMITED');
    assert.equal((await postJson(tb.http('/v1/sessions'), '{nope')).status, 429);
  });

  test('a socket past its frame limit gets RATE_LIMITED with a hint, and is closed 4429 if it keeps going', async (t) => {
    const tb = await startBroker(t, {
      rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
      sessionSocketLimit: { burst: 5, perSecond: 1, abuseDebt: 20 },
    });
    await FakeMedia.connect(t, tb, 'm1');
    const bystander = await SessionClient.open(t, tb);
    const flooder = await SessionClient.open(t, tb);
    for (let i = 0; i < 40; i++) flooder.send({ room: `room-${i}` });
    assert.equal((await flooder.inbox.closed).code, 4429);
    const byId = new Map(flooder.inbox.messages.map((message) => [message.id, message]));
    for (let i = 1; i <= 5; i++)
      assert.notEqual(byId.get(`r${i}`)?.code, 'RATE_LIMITED', `r${i} is within the burst`);
    const limited = byId.get('r6')!;
    assert.equal(limited.code, 'RATE_LIMITED', 'the refusal carries the id the client waits on');
    assert.ok((limited.retryAfterMs as number) >= 1000);
    assert.equal(flooder.inbox.messages.at(-1)?.code, 'RATE_LIMITED');
    assert.match(flooder.inbox.messages.at(-1)?.message as string, /closing/);
    assert.equal((await bystander.request({ room: 'lobby' })).type, 'session.assigned');
  });

  test('rateLimit: false turns both limits off (benchmarks, or a limiting proxy in front)', async (t) => {
    const tb = await startBroker(t, { rateLimit: false });
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    for (let i = 0; i < 120; i++) client.send({ room: 'lobby' });
    await waitFor('every reply', () => client.inbox.messages.length === 120);
    assert.equal(client.inbox.messages.filter((reply) => reply.code === 'RATE_LIMITED').length, 0);
    const response = await postJson(tb.http('/v1/sessions'), body('h1'));
    assert.equal(response.headers.get('x-ratelimit-limit'), null);
  });
});

describe('keys and leaks', () => {
  test('control tokens: an old key is accepted while listed and refused once removed; other algorithms and purposes are refused', async (t) => {
    const oldRing = parseSecret(`k1:${'o'.repeat(32)}`);
    const rotating = await startBroker(t, { keys: parseSecret(`k2:${'n'.repeat(32)},k1:${'o'.repeat(32)}`) });
    const rotated = await startBroker(t, { keys: parseSecret(`k2:${'n'.repeat(32)}`) });
    const token = await signControlToken(oldRing, 'm1');
    const accepted = await openSocket(t, rotating.ws('/v1/control'));
    accepted.send(registerMessage('m1', token));
    assert.equal((await accepted.next()).type, 'registered');
    const refused = await openSocket(t, rotated.ws('/v1/control'));
    refused.send(registerMessage('m1', token));
    assert.equal((await refused.next()).code, 'UNAUTHORIZED');
    assert.equal((await refused.closed).code, 4401);

    const tb = await startBroker(t);
    const key = keys.derive('control', keys.current.kid)!;
    const claims = () =>
      new SignJWT({})
        .setIssuer('m2')
        .setSubject('m2')
        .setAudience('usher-control')
        .setIssuedAt()
        .setExpirationTime('60s');
    const forgeries: Array<[string, string]> = [
      [
        'HS512 with the right key',
        await claims()
          .setProtectedHeader({ alg: 'HS512', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .sign(key),
      ],
      ['no kid', await claims().setProtectedHeader({ alg: 'HS256', typ: 'usher-control+jwt' }).sign(key)],
      [
        'a ticket key',
        await claims()
          .setProtectedHeader({ alg: 'HS256', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .sign(keys.derive('ticket', keys.current.kid)!),
      ],
      [
        'a ticket',
        signTicket(keys, { sessionId: 'm2', room: 'r', serverId: 'usher-control', name: '', ttlSeconds: 30 })
          .ticket,
      ],
      [
        'expired',
        await claims()
          .setProtectedHeader({ alg: 'HS256', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(key),
      ],
    ];
    for (const [what, forged] of forgeries) {
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      inbox.send(registerMessage('m2', forged));
      assert.equal((await inbox.next()).code, 'UNAUTHORIZED', what);
      assert.equal((await inbox.closed).code, 4401, what);
    }
    assert.equal(await healthy(tb), 0);
  });

  test('binary frames on the control channel are refused like any bad first message', async (t) => {
    const tb = await startBroker(t);
    const inbox = await openSocket(t, tb.ws('/v1/control'));
    inbox.socket.send(
      Buffer.from(JSON.stringify(registerMessage('m1', await signControlToken(keys, 'm1')))),
      {
        binary: true,
      },
    );
    assert.equal((await inbox.next()).code, 'BAD_MESSAGE');
    assert.equal((await inbox.closed).code, 4400);
  });

  test('no secret, token, ticket or resume proof reaches a log line or an error reply', async (t) => {
    const adminToken = 'admin-token-abcdefghijklmnop';
    const metricsToken = 'metrics-token-abcdefghijklmnop';
    const tb = await startBroker(t, { adminToken, metricsToken });
    const secrets = new Set<string>([SECRET, adminToken, metricsToken]);
    const media = await FakeMedia.connect(t, tb, 'm1');
    const controlToken = await signControlToken(keys, 'm1');
    secrets.add(controlToken);
    // A second registration with the same id and a valid token: refused, token not logged.
    const dup = await openSocket(t, tb.ws('/v1/control'));
    dup.send(registerMessage('m1', controlToken));
    const replies: unknown[] = [await dup.next()];
    // Bad tokens, bad URLs with credentials.
    for (const message of [
      registerMessage('m2', `${controlToken}x`),
      registerMessage('m3', await signControlToken(keys, 'm3'), { url: 'ws://user:hunter2-password@h/' }),
    ]) {
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      inbox.send(message);
      replies.push(await inbox.next());
      secrets.add(message.token as string);
    }
    secrets.add('hunter2-password');
    const client = await SessionClient.open(t, tb);
    const assigned = await client.request({ room: 'lobby', name: 'Ada' });
    secrets.add(assigned.ticket as string);
    replies.push(await client.request({ room: 'lobby', resume: `${assigned.ticket as string}x` }));
    secrets.add(`${assigned.ticket as string}x`);
    replies.push(await client.request({ room: 'elsewhere', resume: assigned.ticket }));
    replies.push(await client.request({ room: 'lobby', ticket: assigned.ticket }));
    const http = await postJson(tb.http('/v1/sessions'), {
      type: 'session.request',
      v: 1,
      id: 'h1',
      room: 'lobby',
      resume: 'eyJhbGciOiJIUzI1NiJ9.forged-resume-proof.sig',
    });
    replies.push(http.body);
    secrets.add('forged-resume-proof');
    for (const headers of [
      { authorization: `Bearer ${adminToken}x` },
      { authorization: `Bearer ${metricsToken}` },
    ]) {
      const response = await fetch(tb.http('/admin/v1/servers'), { headers });
      replies.push(await response.text());
      secrets.add(headers.authorization.slice(7));
    }
    replies.push(
      await (await fetch(tb.http('/metrics'), { headers: { authorization: `Bearer ${adminToken}` } })).text(),
    );
    media.inbox.socket.terminate();
    await waitFor('the loss', () => tb.logged('media server lost').length === 1);

    const logs = JSON.stringify(tb.records);
    const answered = JSON.stringify(replies);
    for (const secret of secrets) {
      assert.equal(logs.includes(secret), false, `a log line holds ${secret.slice(0, 12)}…`);
      assert.equal(answered.includes(secret), false, `a reply holds ${secret.slice(0, 12)}…`);
    }
    assert.ok(tb.records.length > 5, 'the flow was logged at debug level');
  });

  test('/metrics behind a token: 401 without it, the metrics with it', async (t) => {
    const tb = await startBroker(t, { metricsToken: 'metrics-token-0123456789' });
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'metrics-token-0123456789' },
    ];
    for (const headers of attempts) {
      const response = await fetch(tb.http('/metrics'), { headers });
      const text = await response.text();
      assert.equal(response.status, 401);
      assert.equal((JSON.parse(text) as { code: string }).code, 'UNAUTHORIZED');
      assert.doesNotMatch(text, /usher_broker|process_cpu/);
    }
    const ok = await fetch(tb.http('/metrics'), {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /usher_broker_media_servers 0/);
  });
});

describe('losing media servers', () => {
  test('a silent server (open socket, no heartbeat) is dropped after the timeout and its rooms move', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 400 } });
    const frozen = await FakeMedia.connect(t, tb, 'frozen');
    const silentSince = Date.now();
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'frozen');
    await FakeMedia.connect(t, tb, 'alive', { heartbeatMs: 50 });
    await waitFor('the frozen server to be dropped', async () => (await healthy(tb)) === 1);
    const detectedAfter = Date.now() - silentSince;
    assert.ok(detectedAfter >= 350 && detectedAfter < 1500, `dropped after ${detectedAfter} ms`);
    assert.equal((await frozen.inbox.closed).code, 4408);
    const [lost] = tb.logged('media server lost');
    assert.deepEqual([lost?.id, lost?.reason], ['frozen', 'heartbeat-timeout']);
    assert.equal(tb.logged('media server lost').length, 1);

    const moved = await client.request({ room: 'lobby', exclude: ['frozen'] });
    assert.equal((moved.server as { id: string }).id, 'alive');
    const [line] = tb.logged('room moved');
    assert.deepEqual([line?.room, line?.from, line?.to, line?.cause], ['lobby', 'frozen', 'alive', 'frozen']);
    assert.equal((await getJson(tb.http('/healthz'))).body.servers, 1, 'the live one was never dropped');
  });

  test('a closed control socket removes the server at once', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 1000, timeoutMs: 60_000 } });
    const doomed = await FakeMedia.connect(t, tb, 'doomed');
    await FakeMedia.connect(t, tb, 'other');
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'doomed');
    const closedAt = Date.now();
    doomed.inbox.socket.terminate();
    await waitFor('the closed server to be dropped', async () => (await healthy(tb)) === 1, 1000);
    assert.ok(Date.now() - closedAt < 1000);
    assert.equal(tb.logged('media server lost')[0]?.reason, 'control-closed');
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'other');
    // The id is free again: a restarted server registers under it.
    await FakeMedia.connect(t, tb, 'doomed');
    assert.equal(await healthy(tb), 2);
  });

  test('real processes: SIGSTOP is caught by the heartbeat, SIGKILL by the socket close', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 500 } });
    const [frozen, crashed] = await Promise.all([spawnMedia(t, tb, 'frozen'), spawnMedia(t, tb, 'crashed')]);
    await waitFor('both registered', async () => (await healthy(tb)) === 2);

    frozen.kill('SIGSTOP');
    await waitFor('the stopped process to be dropped', async () => (await healthy(tb)) === 1, 3000);
    assert.equal(tb.logged('media server lost')[0]?.reason, 'heartbeat-timeout');

    crashed.kill('SIGKILL');
    await waitFor('the killed process to be dropped', async () => (await healthy(tb)) === 0, 3000);
    assert.equal(tb.logged('media server lost')[1]?.reason, 'control-closed');
    const client = await SessionClient.open(t, tb);
    assert.equal((await client.request({ room: 'lobby' })).code, 'NO_SERVER_AVAILABLE');
  });
});

describe('admin, health and metrics', () => {
  test('admin routes are 404 without a configured token', async (t) => {
    const tb = await startBroker(t);
    const response = await getJson(tb.http('/admin/v1/servers'), { authorization: 'Bearer anything' });
    assert.deepEqual([response.status, response.body.code], [404, 'NOT_FOUND']);
  });

  test('a missing or wrong token ⇒ 401 without listing anything', async (t) => {
    const tb = await startBroker(t, { adminToken: 'admin-token-123' });
    await FakeMedia.connect(t, tb, 'm1');
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer admin-token-124' },
      { authorization: 'admin-token-123' },
    ];
    for (const headers of attempts) {
      const response = await fetch(tb.http('/admin/v1/servers'), { headers });
      const text = await response.text();
      assert.equal(response.status, 401);
      assert.equal((JSON.parse(text) as { code: string }).code, 'UNAUTHORIZED');
      assert.doesNotMatch(text, /m1/);
    }
    const drain = await fetch(tb.http('/admin/v1/servers/m1/drain'), { method: 'POST' });
    assert.equal(drain.status, 401);
  });

  test('listing servers and rooms, and draining a server', async (t) => {
    let clock = Date.now();
    const tb = await startBroker(t, { adminToken: 'admin-token-123', now: () => clock });
    const auth = { authorization: 'Bearer admin-token-123' };
    const m1 = await FakeMedia.connect(t, tb, 'm1');
    await FakeMedia.connect(t, tb, 'm2');
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'm1');
    m1.load({ peers: 1, rooms: 1, opened: ['lobby'] });
    await waitFor('the room report', async () => {
      const { body } = await getJson(tb.http('/admin/v1/servers'), auth);
      return (body.servers as Array<{ id: string; rooms: number }>).find((s) => s.id === 'm1')?.rooms === 1;
    });
    const { body: listing } = await getJson(tb.http('/admin/v1/servers'), auth);
    const first = (listing.servers as Array<Record<string, unknown>>)[0]!;
    assert.deepEqual(Object.keys(first).sort(), [
      'capacity',
      'draining',
      'healthy',
      'id',
      'lastSeenAgoMs',
      'lastSeenMs',
      'load',
      'peers',
      'rooms',
      'url',
    ]);
    assert.equal(first.healthy, true);
    assert.equal(first.load, 0.001);
    const { body: rooms } = await getJson(tb.http('/admin/v1/rooms'), auth);
    assert.deepEqual(
      (rooms.rooms as Array<{ room: string; server: string }>).map(({ room, server }) => ({ room, server })),
      [{ room: 'lobby', server: 'm1' }],
    );

    const drained = await fetch(tb.http('/admin/v1/servers/m1/drain'), { method: 'POST', headers: auth });
    assert.equal(drained.status, 200);
    assert.deepEqual(await m1.inbox.next((message) => message.type === 'drain'), { type: 'drain', v: 1 });
    assert.equal(((await client.request({ room: 'new-room' })).server as { id: string }).id, 'm2');
    // Its clients are told to migrate and come back excluding it.
    assert.equal(
      ((await client.request({ room: 'lobby', exclude: ['m1'] })).server as { id: string }).id,
      'm2',
    );
    assert.equal(tb.logged('room moved')[0]?.cause, 'drained');
    // A later report without the flag does not undo an admin drain.
    type Listed = { id: string; draining: boolean; lastSeenMs: number };
    const m1Listed = async () =>
      ((await getJson(tb.http('/admin/v1/servers'), auth)).body.servers as Listed[]).find(
        (s) => s.id === 'm1',
      )!;
    clock += 1000;
    m1.load({ draining: false });
    await waitFor('the report', async () => (await m1Listed()).lastSeenMs === clock);
    assert.equal((await m1Listed()).draining, true);

    const unknown = await fetch(tb.http('/admin/v1/servers/nope/drain'), { method: 'POST', headers: auth });
    assert.equal(unknown.status, 404);
  });

  test('/healthz counts healthy servers and pinned rooms', async (t) => {
    const tb = await startBroker(t);
    assert.deepEqual((await getJson(tb.http('/healthz'))).body, { status: 'ok', servers: 0, rooms: 0 });
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    await client.request({ room: 'a' });
    await client.request({ room: 'b' });
    assert.deepEqual((await getJson(tb.http('/healthz'))).body, { status: 'ok', servers: 1, rooms: 2 });
  });

  test('/metrics exposes the broker metrics and process metrics on its own registry', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 1000, timeoutMs: 60_000 } });
    const media = await FakeMedia.connect(t, tb, 'm1');
    await FakeMedia.connect(t, tb, 'm2');
    const client = await SessionClient.open(t, tb);
    const first = await client.request({ room: 'lobby' });
    await client.request({ room: 'lobby', exclude: [(first.server as { id: string }).id] });
    media.inbox.socket.terminate();
    await waitFor('the loss', () => tb.logged('media server lost').length === 1);
    const response = await fetch(tb.http('/metrics'));
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    for (const pattern of [
      /^usher_broker_media_servers 1$/m,
      /^usher_broker_rooms_pinned 1$/m,
      /^usher_broker_media_server_registrations_total 2$/m,
      /^usher_broker_media_servers_lost_total\{reason="control-closed"\} 1$/m,
      /^usher_broker_room_moves_total\{cause="member"\} 1$/m,
      /^usher_broker_session_requests_total\{transport="ws",result="assigned"\} 2$/m,
      /^usher_broker_session_request_seconds_count\{transport="ws"\} 2$/m,
      /^usher_broker_session_connections 1$/m,
      /^process_cpu_user_seconds_total /m,
    ])
      assert.match(text, pattern);
  });
});

describe('static web app', () => {
  test('serves the built app with an index.html fallback for browser routes', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>usher</title>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    const tb = await startBroker(t, { staticDir: dir });
    const html = { accept: 'text/html,application/xhtml+xml' };
    assert.match(await (await fetch(tb.http('/'), { headers: html })).text(), /<title>usher/);
    assert.equal(await (await fetch(tb.http('/app.js'))).text(), 'console.log(1)');
    const deep = await fetch(tb.http('/rooms/lobby'), { headers: html });
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<title>usher/);
    const api = await fetch(tb.http('/v1/nope'), { headers: html });
    assert.deepEqual([api.status, ((await api.json()) as { code: string }).code], [404, 'NOT_FOUND']);
    const asset = await fetch(tb.http('/missing.js'));
    assert.equal(asset.status, 404);
  });

  test('a missing static dir is skipped', async (t) => {
    const tb = await startBroker(t, { staticDir: join(tmpdir(), 'usher-no-such-dir') });
    assert.equal((await fetch(tb.http('/'), { headers: { accept: 'text/html' } })).status, 404);
  });
});

/** A pin store whose reads wait while the gate is closed: requests stay in flight on demand. */
class GatedPinStore extends MemoryPinStore {
  private waiting: Array<() => void> = [];
  private shut = false;

  close(): void {
    this.shut = true;
  }

  open(): void {
    this.shut = false;
    for (const release of this.waiting.splice(0)) release();
  }

  override async get(room: string): Promise<Pin | undefined> {
    if (this.shut) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.get(room);
  }
}

const FIXTURE = fileURLToPath(new URL('./fake-media-process.ts', import.meta.url));

async function spawnMedia(
  t: { after: (fn: () => void) => void },
  tb: TestBroker,
  id: string,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, BROKER_WS: tb.ws('/v1/control'), MEDIA_ID: id, USHER_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    // A stopped process must be continued before it can act on SIGKILL and be reaped.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'registered') resolve();
    });
    child.once('exit', (code) => reject(new Error(`fake media ${id} exited with ${code}`)));
  });
  return child;
}
