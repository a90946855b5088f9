// The media server over real sockets: join and rooms, relay, ping, every bad input and
// ticket attack with its catalogue code, session replacement, timeouts, limits, drain, healthz.
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { parseSecret } from '../common/keys.ts';
import { signControlToken, signTicket } from '../common/tickets.ts';
import { createMediaServer, type MediaServer, type MediaServerOptions } from './index.ts';
import { captureLogger, type Message, TestClient, until } from './testing/harness.ts';

const keys = parseSecret(`k1:${'s'.repeat(32)}`);
const SERVER_ID = 'media-1';

interface Harness {
  server: MediaServer;
  records: Record<string, unknown>[];
  connect(): Promise<TestClient>;
  ticket(
    sessionId: string,
    room?: string,
    extra?: { serverId?: string; now?: number; name?: string },
  ): string;
  join(sessionId: string, room?: string): Promise<{ client: TestClient; joined: Message }>;
}

async function start(
  t: { after(fn: () => unknown): void },
  overrides: Partial<MediaServerOptions> = {},
): Promise<Harness> {
  const { logger, records } = captureLogger();
  const server = await createMediaServer({ id: SERVER_ID, port: 0, keys, logger, ...overrides });
  const clients: TestClient[] = [];
  t.after(async () => {
    for (const client of clients) client.close();
    await server.close();
  });
  const connect = async () => {
    const client = await TestClient.open(server.url);
    clients.push(client);
    return client;
  };
  const ticket: Harness['ticket'] = (sessionId, room = 'lobby', extra = {}) =>
    signTicket(
      keys,
      {
        sessionId,
        room,
        serverId: extra.serverId ?? SERVER_ID,
        name: extra.name ?? `name-${sessionId}`,
        ttlSeconds: 30,
      },
      extra.now,
    ).ticket;
  const join: Harness['join'] = async (sessionId, room = 'lobby') => {
    const client = await connect();
    client.send({ type: 'join', v: 1, ticket: ticket(sessionId, room), room });
    const joined = await client.nextOfType('joined');
    return { client, joined };
  };
  return { server, records, connect, ticket, join };
}

const offer = { description: { type: 'offer', sdp: 'v=0\r\n' } };

describe('join and rooms', () => {
  test('joined lists the others; the others hear peer.joined', async (t) => {
    const h = await start(t);
    const a = await h.join('alice');
    assert.deepEqual(a.joined, {
      type: 'joined',
      v: 1,
      room: 'lobby',
      server: { id: SERVER_ID },
      peerId: 'alice',
      peers: [],
    });
    const b = await h.join('bob');
    assert.deepEqual(b.joined.peers, [{ peerId: 'alice', name: 'name-alice' }]);
    assert.deepEqual(await a.client.nextOfType('peer.joined'), {
      type: 'peer.joined',
      v: 1,
      peer: { peerId: 'bob', name: 'name-bob' },
    });
    const other = await h.join('carol', 'elsewhere');
    assert.deepEqual(other.joined.peers, []);
    assert.deepEqual(h.server.stats(), { rooms: 2, peers: 3, draining: false });
  });

  test('leave ⇒ peer.left "left" and close 1000; dropped socket ⇒ "disconnected"; empty rooms go', async (t) => {
    const h = await start(t);
    const a = await h.join('alice');
    const b = await h.join('bob');
    const c = await h.join('carol');
    b.client.send({ type: 'leave', v: 1 });
    assert.equal(await b.client.waitClosed(), 1000);
    for (const peer of [a, c]) {
      assert.deepEqual(await peer.client.nextOfType('peer.left'), {
        type: 'peer.left',
        v: 1,
        peerId: 'bob',
        reason: 'left',
      });
    }
    c.client.ws.terminate();
    const left = await a.client.nextOfType('peer.left');
    assert.equal(left.peerId, 'carol');
    assert.equal(left.reason, 'disconnected');
    assert.deepEqual(h.server.stats(), { rooms: 1, peers: 1, draining: false });
    a.client.send({ type: 'leave', v: 1 });
    await a.client.waitClosed();
    await until(() => h.server.stats().rooms === 0, 'the empty room to be deleted');
  });

  test('a second join is ALREADY_JOINED, without closing (tickets are checked synchronously)', async (t) => {
    const h = await start(t);
    const client = await h.connect();
    client.send({ type: 'join', v: 1, ticket: h.ticket('alice') });
    client.send({ type: 'join', v: 1, ticket: h.ticket('alice') });
    await client.nextOfType('joined');
    await client.error('ALREADY_JOINED');
    client.send({ type: 'join', v: 1, ticket: h.ticket('alice') });
    await client.error('ALREADY_JOINED');
    await client.roundTrip(1);
    assert.equal(client.closeCode, undefined);
  });

  test('capacity: ROOM_FULL closes 4400, SERVER_FULL closes 4503', async (t) => {
    const h = await start(t, { capacity: { maxPeersPerRoom: 1, maxRooms: 1 } });
    await h.join('alice', 'one');
    const full = await h.connect();
    full.send({ type: 'join', v: 1, ticket: h.ticket('bob', 'one') });
    await full.error('ROOM_FULL');
    assert.equal(await full.waitClosed(), 4400);
    const noRoom = await h.connect();
    noRoom.send({ type: 'join', v: 1, ticket: h.ticket('carol', 'two') });
    await noRoom.error('SERVER_FULL');
    assert.equal(await noRoom.waitClosed(), 4503);
  });

  test('the same session joining again replaces the old socket without peer.left', async (t) => {
    const h = await start(t);
    const old = await h.join('alice');
    const bob = await h.join('bob');
    await old.client.nextOfType('peer.joined');
    const fresh = await h.join('alice');
    assert.deepEqual(fresh.joined.peers, [{ peerId: 'bob', name: 'name-bob' }]);
    await old.client.error('SESSION_REPLACED');
    assert.equal(await old.client.waitClosed(), 4409);
    assert.deepEqual((await bob.client.nextOfType('peer.joined')).peer, {
      peerId: 'alice',
      name: 'name-alice',
    });
    // Wait until the server has processed the old socket's close, then check nothing leaked.
    await until(
      () => h.records.some((r) => r.msg === 'connection closed' && r.peerId === 'alice' && r.code === 4409),
      'the server to see the old socket close',
    );
    await bob.client.roundTrip(7);
    assert.equal(
      bob.client.received.some((m) => m.type === 'peer.left'),
      false,
    );
    assert.deepEqual(h.server.stats(), { rooms: 1, peers: 2, draining: false });
    // Signals to alice now reach the new socket.
    bob.client.send({ type: 'signal', v: 1, to: 'alice', data: offer });
    assert.equal((await fresh.client.nextOfType('signal')).from, 'bob');
  });
});

describe('relay and ping', () => {
  test('signal is relayed with from; unknown or own peer id ⇒ PEER_NOT_FOUND without closing', async (t) => {
    const h = await start(t);
    const a = await h.join('alice');
    const b = await h.join('bob');
    const candidate = {
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0' },
    };
    a.client.send({ type: 'signal', v: 1, to: 'bob', data: offer });
    b.client.send({ type: 'signal', v: 1, to: 'alice', data: candidate });
    assert.deepEqual(await b.client.nextOfType('signal'), {
      type: 'signal',
      v: 1,
      from: 'alice',
      data: offer,
    });
    assert.deepEqual(await a.client.nextOfType('signal'), {
      type: 'signal',
      v: 1,
      from: 'bob',
      data: candidate,
    });
    a.client.send({ type: 'signal', v: 1, to: 'nobody', data: offer });
    await a.client.error('PEER_NOT_FOUND');
    a.client.send({ type: 'signal', v: 1, to: 'alice', data: offer });
    await a.client.error('PEER_NOT_FOUND');
    // A peer in another room is not reachable.
    await h.join('carol', 'other');
    a.client.send({ type: 'signal', v: 1, to: 'carol', data: offer });
    await a.client.error('PEER_NOT_FOUND');
    await a.client.roundTrip(1);
  });

  test('ping is answered before and after join, with or without v', async (t) => {
    const h = await start(t);
    const client = await h.connect();
    client.send({ type: 'ping', seq: 0 });
    assert.equal(JSON.stringify(await client.nextOfType('pong')), '{"type":"pong","v":1,"seq":0}');
    client.send({ type: 'join', v: 1, ticket: h.ticket('alice') });
    await client.nextOfType('joined');
    client.send({ type: 'ping', v: 1, seq: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(await client.nextOfType('pong'), { type: 'pong', v: 1, seq: Number.MAX_SAFE_INTEGER });
    client.send('{ "seq": 42, "type": "ping" }');
    assert.deepEqual(await client.nextOfType('pong'), { type: 'pong', v: 1, seq: 42 });
    client.send({ type: 'ping', seq: -1 });
    await client.error('BAD_MESSAGE');
  });
});

describe('bad input', () => {
  test('each malformed message gets its code; the sender and its room keep working', async (t) => {
    const h = await start(t);
    const attacker = await h.join('mallory');
    const a = await h.join('alice');
    const cases: [unknown, string][] = [
      ['{not json', 'BAD_JSON'],
      ['[]', 'BAD_MESSAGE'],
      ['"ping"', 'BAD_MESSAGE'],
      [{ v: 1 }, 'BAD_MESSAGE'],
      [{ type: 'explode', v: 1 }, 'UNKNOWN_TYPE'],
      [{ type: '__proto__', v: 1 }, 'UNKNOWN_TYPE'],
      [{ type: 'signal', v: 1, to: 'alice' }, 'BAD_MESSAGE'],
      [{ type: 'signal', v: 1, to: 'alice', data: { description: { type: 'offer' } } }, 'BAD_MESSAGE'],
      [{ type: 'signal', v: 1, to: 'alice', data: offer, extra: true }, 'BAD_MESSAGE'],
      [
        {
          type: 'signal',
          v: 1,
          to: 'alice',
          data: { description: { type: 'offer', sdp: 'x'.repeat(40_000) } },
        },
        'BAD_MESSAGE',
      ],
      [{ type: 'signal', v: 2, to: 'alice', data: offer }, 'UNSUPPORTED_VERSION'],
      [{ type: 'join', v: 1 }, 'BAD_MESSAGE'],
    ];
    for (const [input, code] of cases) {
      attacker.client.send(input);
      const error = await attacker.client.error(code);
      assert.equal(error.v, 1);
      assert.equal(typeof error.message, 'string');
      if (code === 'UNSUPPORTED_VERSION') assert.deepEqual(error.supported, [1]);
    }
    attacker.client.ws.send(Buffer.from('{"type":"ping","seq":1}'), { binary: true });
    await attacker.client.error('BAD_MESSAGE');
    await attacker.client.roundTrip(1);
    a.client.send({ type: 'signal', v: 1, to: 'mallory', data: offer });
    assert.equal((await attacker.client.nextOfType('signal')).from, 'alice');

    // An oversized frame ends the sender's connection with 1009, nobody else's.
    attacker.client.send(JSON.stringify({ type: 'ping', seq: 1, pad: 'x'.repeat(70_000) }));
    assert.equal(await attacker.client.waitClosed(), 1009);
    assert.equal((await a.client.nextOfType('peer.left')).reason, 'disconnected');
    const b = await h.join('bob');
    await a.client.roundTrip(2);
    a.client.send({ type: 'signal', v: 1, to: 'bob', data: offer });
    assert.equal((await b.client.nextOfType('signal')).from, 'alice');
  });

  test('random input never closes a joined connection nor disturbs its room', async (t) => {
    const h = await start(t, { rateLimit: { burst: 10_000 } });
    const fuzzer = await h.join('fuzz');
    const a = await h.join('alice');
    const messages = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc
        .record(
          {
            type: fc.constantFrom('join', 'ping', 'signal', 'pong', 'error', 'constructor', ''),
            v: fc.constantFrom(1, 2, '1', null),
            seq: fc.oneof(fc.integer(), fc.double(), fc.string()),
            to: fc.constantFrom('alice', 'fuzz', 'nobody', '', 7),
            ticket: fc.string({ maxLength: 50 }),
            data: fc.anything({ maxDepth: 3 }),
          },
          { requiredKeys: ['type'] },
        )
        .map((value) => JSON.stringify(value)),
    );
    const samples = fc.sample(messages, { numRuns: 400, seed: 42 });
    for (const message of samples) fuzzer.client.send(message);
    await fuzzer.client.roundTrip(1_000_000);
    assert.equal(fuzzer.client.closeCode, undefined);
    // (assert.ok without a message re-parses the transpiled source on failure: very slow under tsx.)
    const unexpected = fuzzer.client.received.filter(
      (m) => !['error', 'pong', 'peer.joined'].includes(m.type),
    );
    assert.deepEqual(unexpected, []);
    await a.client.roundTrip(1);
    fuzzer.client.send({ type: 'signal', v: 1, to: 'alice', data: offer });
    assert.equal(
      (
        await a.client.next(
          (m) => m.type === 'signal' && m.data !== undefined && 'description' in (m.data as object),
        )
      ).from,
      'fuzz',
    );
    assert.deepEqual(h.server.stats(), { rooms: 1, peers: 2, draining: false });
  });

  test('a non-join message first ⇒ NOT_JOINED and close 4400; malformed ones first do not close', async (t) => {
    const h = await start(t);
    const client = await h.connect();
    client.send('nope');
    await client.error('BAD_JSON');
    client.send({ type: 'join', v: 9, ticket: 'x' });
    await client.error('UNSUPPORTED_VERSION');
    await client.roundTrip(1);
    client.send({ type: 'signal', v: 1, to: 'bob', data: offer });
    await client.error('NOT_JOINED');
    assert.equal(await client.waitClosed(), 4400);
    const leaver = await h.connect();
    leaver.send({ type: 'leave', v: 1 });
    await leaver.error('NOT_JOINED');
    assert.equal(await leaver.waitClosed(), 4400);
  });

  test('a flood gets RATE_LIMITED with a retry hint, then close 4429', async (t) => {
    const h = await start(t);
    const flooder = await h.join('flood');
    const a = await h.join('alice');
    for (let seq = 0; seq < 1000; seq++) flooder.client.send({ type: 'ping', seq });
    const limited = await flooder.client.error('RATE_LIMITED');
    assert.equal(typeof limited.retryAfterMs, 'number');
    assert.equal(await flooder.client.waitClosed(), 4429);
    await a.client.roundTrip(1);
  });
});

describe('tickets', () => {
  const other = parseSecret(`k1:${'o'.repeat(32)}`);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const attacks: [string, (h: Harness) => { ticket: string; room?: string }, string][] = [
    [
      'forged with another secret',
      () => ({
        ticket: signTicket(other, {
          sessionId: 'eve',
          room: 'lobby',
          serverId: SERVER_ID,
          name: '',
          ttlSeconds: 30,
        }).ticket,
      }),
      'TICKET_INVALID',
    ],
    [
      'expired',
      (h) => ({ ticket: h.ticket('eve', 'lobby', { now: Date.now() - 120_000 }) }),
      'TICKET_EXPIRED',
    ],
    [
      'for another server',
      (h) => ({ ticket: h.ticket('eve', 'lobby', { serverId: 'media-2' }) }),
      'TICKET_WRONG_SERVER',
    ],
    ['for another room', (h) => ({ ticket: h.ticket('eve', 'lobby'), room: 'vip' }), 'TICKET_WRONG_ROOM'],
    [
      'alg none',
      () => {
        const exp = Math.floor(Date.now() / 1000) + 30;
        const payload = { room: 'lobby', iss: 'usher', aud: SERVER_ID, sub: 'eve', jti: 'j1', exp };
        return { ticket: `${b64({ alg: 'none', kid: 'k1', typ: 'usher-ticket+jwt' })}.${b64(payload)}.` };
      },
      'TICKET_INVALID',
    ],
    [
      'tampered payload',
      (h) => {
        const [header, , signature] = h.ticket('eve').split('.');
        const exp = Math.floor(Date.now() / 1000) + 30;
        const payload = { room: 'vip', iss: 'usher', aud: SERVER_ID, sub: 'eve', jti: 'j2', exp };
        return { ticket: `${header}.${b64(payload)}.${signature}` };
      },
      'TICKET_INVALID',
    ],
    ['garbage', () => ({ ticket: 'not.a.jwt' }), 'TICKET_INVALID'],
    [
      'algorithm confusion: RS256 (validly signed with an attacker RSA key)',
      () => ({ ticket: forgedRs256 }),
      'TICKET_INVALID',
    ],
    [
      'algorithm confusion: HS512 signed with the real ticket key',
      () => ({ ticket: forgedHs512 }),
      'TICKET_INVALID',
    ],
    ['an unknown kid', () => ({ ticket: unknownKid }), 'TICKET_INVALID'],
    ['no kid', () => ({ ticket: noKid }), 'TICKET_INVALID'],
    [
      'another purpose: a control token (same secret, other derived key)',
      () => ({ ticket: controlToken }),
      'TICKET_INVALID',
    ],
    ['a JWT without the ticket typ', () => ({ ticket: plainJwt }), 'TICKET_INVALID'],
  ];
  // Built once (jose is async): each is a ticket for this server and room that must still be refused.
  let forgedRs256 = '';
  let forgedHs512 = '';
  let unknownKid = '';
  let noKid = '';
  let controlToken = '';
  let plainJwt = '';
  before(async () => {
    const claims = () =>
      new SignJWT({ room: 'lobby', name: 'eve' })
        .setIssuer('usher')
        .setAudience(SERVER_ID)
        .setSubject('eve')
        .setJti(`j-${Math.random()}`)
        .setIssuedAt()
        .setExpirationTime('30s');
    const ticketKey = keys.derive('ticket', 'k1')!;
    const { privateKey } = await generateKeyPair('RS256');
    forgedRs256 = await claims()
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'usher-ticket+jwt' })
      .sign(privateKey);
    forgedHs512 = await claims()
      .setProtectedHeader({ alg: 'HS512', kid: 'k1', typ: 'usher-ticket+jwt' })
      .sign(ticketKey);
    unknownKid = signTicket(parseSecret(`k9:${'s'.repeat(32)}`), {
      sessionId: 'eve',
      room: 'lobby',
      serverId: SERVER_ID,
      name: '',
      ttlSeconds: 30,
    }).ticket;
    noKid = await claims().setProtectedHeader({ alg: 'HS256', typ: 'usher-ticket+jwt' }).sign(ticketKey);
    controlToken = await signControlToken(keys, SERVER_ID);
    plainJwt = await claims().setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT' }).sign(ticketKey);
  });
  for (const [name, make, code] of attacks) {
    test(`${name} ⇒ ${code} and close 4401`, async (t) => {
      const h = await start(t);
      const client = await h.connect();
      const { ticket, room } = make(h);
      client.send({ type: 'join', v: 1, ticket, ...(room === undefined ? {} : { room }) });
      await client.error(code);
      assert.equal(await client.waitClosed(), 4401);
      assert.deepEqual(h.server.stats(), { rooms: 0, peers: 0, draining: false });
      assert.equal(JSON.stringify(h.records).includes(ticket), false, 'the ticket must not be logged');
    });
  }

  test('key rotation: a ticket of the old key joins while the key is listed, and is refused once removed', async (t) => {
    const oldKey = `k1:${'s'.repeat(32)}`;
    const listed = await start(t, { keys: parseSecret(`k2:${'n'.repeat(32)},${oldKey}`) });
    const client = await listed.connect();
    client.send({ type: 'join', v: 1, ticket: listed.ticket('alice') });
    assert.equal((await client.nextOfType('joined')).peerId, 'alice');
    const removed = await start(t, { keys: parseSecret(`k2:${'n'.repeat(32)}`) });
    const late = await removed.connect();
    late.send({ type: 'join', v: 1, ticket: removed.ticket('bob') });
    await late.error('TICKET_INVALID');
    assert.equal(await late.waitClosed(), 4401);
    // New tickets are signed with the first key, which both rings accept.
    const fresh = signTicket(parseSecret(`k2:${'n'.repeat(32)},${oldKey}`), {
      sessionId: 'carol',
      room: 'lobby',
      serverId: SERVER_ID,
      name: '',
      ttlSeconds: 30,
    }).ticket;
    const next = await removed.connect();
    next.send({ type: 'join', v: 1, ticket: fresh });
    assert.equal((await next.nextOfType('joined')).peerId, 'carol');
  });

  test('a replayed ticket ⇒ TICKET_REPLAYED and close 4401', async (t) => {
    const h = await start(t);
    const ticket = h.ticket('alice');
    const first = await h.connect();
    first.send({ type: 'join', v: 1, ticket });
    await first.nextOfType('joined');
    const second = await h.connect();
    second.send({ type: 'join', v: 1, ticket });
    await second.error('TICKET_REPLAYED');
    assert.equal(await second.waitClosed(), 4401);
    await first.roundTrip(1);
    assert.equal(JSON.stringify(h.records).includes(ticket), false, 'the ticket must not be logged');
  });
});

describe('timeouts', () => {
  test('no join in time ⇒ JOIN_TIMEOUT and close 4408, even while pinging', async (t) => {
    const h = await start(t, { joinTimeoutMs: 150 });
    const client = await h.connect();
    client.send({ type: 'ping', seq: 1 });
    await client.nextOfType('pong');
    await client.error('JOIN_TIMEOUT');
    assert.equal(await client.waitClosed(), 4408);
  });

  test('a silent joined client ⇒ IDLE_TIMEOUT and close 4408; a pinging one stays', async (t) => {
    const h = await start(t, { idleTimeoutMs: 200 });
    const silent = await h.join('silent');
    const chatty = await h.join('chatty');
    let seq = 0;
    const pinger = setInterval(() => chatty.client.send({ type: 'ping', seq: seq++ }), 40);
    t.after(() => clearInterval(pinger));
    await silent.client.error('IDLE_TIMEOUT');
    assert.equal(await silent.client.waitClosed(), 4408);
    assert.equal((await chatty.client.nextOfType('peer.left')).reason, 'disconnected');
    await until(() => seq > 15, 'three idle periods of pings');
    clearInterval(pinger);
    assert.equal(chatty.client.closeCode, undefined);
  });
});

describe('drain, close, http', () => {
  test('drain sends migrate, refuses joins, resolves when everyone has gone', async (t) => {
    const h = await start(t);
    const a = await h.join('alice');
    const b = await h.join('bob');
    let drained = false;
    const draining = h.server.drain().then(() => {
      drained = true;
    });
    for (const peer of [a, b]) {
      assert.deepEqual(await peer.client.nextOfType('migrate'), {
        type: 'migrate',
        v: 1,
        reason: 'draining',
      });
    }
    assert.equal(h.server.stats().draining, true);
    const late = await h.connect();
    late.send({ type: 'join', v: 1, ticket: h.ticket('carol') });
    await late.error('SERVER_DRAINING');
    assert.equal(await late.waitClosed(), 4503);
    await a.client.roundTrip(1);
    assert.equal(drained, false);
    a.client.send({ type: 'leave', v: 1 });
    b.client.ws.close();
    await draining;
    assert.deepEqual(h.server.stats(), { rooms: 0, peers: 0, draining: true });
    const health = (await (await fetch(`http://127.0.0.1:${h.server.port}/healthz`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(health.draining, true);
  });

  test('drain closes stragglers with 4503 after the grace period', async (t) => {
    const h = await start(t, { drainGraceMs: 100 });
    const a = await h.join('alice');
    await h.server.drain();
    await a.client.nextOfType('migrate');
    assert.equal(await a.client.waitClosed(), 4503);
  });

  test('close ends every connection with 1001 and is idempotent', async (t) => {
    const h = await start(t);
    const a = await h.join('alice');
    const pending = await h.connect();
    await Promise.all([h.server.close(), h.server.close()]);
    assert.equal(await a.client.waitClosed(), 1001);
    assert.equal(await pending.waitClosed(), 1001);
    await h.server.close();
  });

  test('GET /healthz reports load; other paths, upgrades elsewhere and bad handshakes get JSON errors', async (t) => {
    const h = await start(t);
    await h.join('alice');
    const base = `http://127.0.0.1:${h.server.port}`;
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), {
      status: 'ok',
      id: SERVER_ID,
      rooms: 1,
      peers: 1,
      draining: false,
    });
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      type: 'error',
      v: 1,
      id: null,
      code: 'NOT_FOUND',
      message: 'not found',
    });
    const wrong = new WebSocket(`ws://127.0.0.1:${h.server.port}/elsewhere`);
    const refused = await new Promise<{ status?: number; body: string }>((resolve) => {
      wrong.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      wrong.on('error', () => resolve({ body: '' }));
    });
    wrong.terminate();
    assert.equal(refused.status, 404);
    assert.equal((JSON.parse(refused.body) as { code: string }).code, 'NOT_FOUND');
    const badKey = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const request = httpGet(`${base}/v1/media`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'nope',
          'sec-websocket-version': '13',
        },
      });
      request.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      request.on('error', reject);
    });
    assert.equal(badKey.status, 400);
    assert.equal((JSON.parse(badKey.body) as { code: string }).code, 'BAD_MESSAGE');
  });

  test('slow or silent HTTP headers get 408 IDLE_TIMEOUT within the header timeout; joined sockets stay', async (t) => {
    const headerTimeoutMs = 300;
    const h = await start(t, { headerTimeoutMs });
    const member = await h.join('alice');
    /** Opens a raw connection that sends `first`, then one more header line every 50 ms (a slowloris). */
    const slowClient = (first: string, trickle: boolean) => {
      const socket = tcpConnect(h.server.port, '127.0.0.1');
      const opened = performance.now();
      let received = '';
      let answeredAfterMs: number | undefined;
      const timer = setInterval(() => {
        if (trickle && socket.writable) socket.write('x-slow: 1\r\n');
      }, 50);
      t.after(() => {
        clearInterval(timer);
        socket.destroy();
      });
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        answeredAfterMs ??= performance.now() - opened;
        received += chunk.toString();
      });
      socket.on('close', () => clearInterval(timer));
      socket.write(first);
      return {
        received: () => received,
        answeredAfterMs: () => answeredAfterMs,
        closed: () => socket.destroyed,
      };
    };
    const slowloris = slowClient('GET /v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n', true);
    const silent = slowClient('', false);
    for (const [name, client] of [
      ['slowloris', slowloris],
      ['silent', silent],
    ] as const) {
      await until(() => client.received().includes('}'), `the ${name} client to be answered`, 5000);
      const [head, body] = client.received().split('\r\n\r\n');
      assert.match(head!, /^HTTP\/1\.1 408 /, name);
      assert.equal((JSON.parse(body!) as { code: string }).code, 'IDLE_TIMEOUT', name);
      const after = client.answeredAfterMs()!;
      // Node checks its timeouts every quarter of the timeout: answered after it, and well before 2×.
      assert.ok(
        after >= headerTimeoutMs - 10 && after < 2 * headerTimeoutMs,
        `${name} answered after ${after} ms`,
      );
      await until(() => client.closed(), `the ${name} connection to close`);
    }
    // The member's upgraded socket is older than both and is not subject to the header timeout.
    await member.client.roundTrip(1);
  });

  test('logs the listening line; public URL defaults to a reachable address', async (t) => {
    const h = await start(t, { host: '0.0.0.0' });
    assert.equal(h.server.url, `ws://127.0.0.1:${h.server.port}/v1/media`);
    const line = h.records.find((r) => r.msg === 'media server listening');
    assert.deepEqual(
      { id: line?.id, url: line?.url, port: line?.port },
      { id: SERVER_ID, url: h.server.url, port: h.server.port },
    );
    const custom = await start(t, { publicUrl: 'wss://media.example/v1/media' });
    assert.equal(custom.server.url, 'wss://media.example/v1/media');
  });
});
