// Server-confirmed seats, in process over real sockets: a broker with confirmation on, real media
// servers (and scripted fake ones for the slow and silent cases), clients joining with the seat.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { parseSecret } from '../common/keys.ts';
import { createLogger } from '../common/logger.ts';
import { TestClient } from '../media/testing/harness.ts';
import {
  FakeMedia,
  type Json,
  keys,
  postJson,
  SessionClient,
  startBroker,
  startMedia,
  type TestBroker,
  waitFor,
} from './testing/harness.ts';

const _logger = createLogger({ name: 'seats-test', level: 'silent' });

function payload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

async function join(
  url: string,
  ticket: string,
  room?: string,
): Promise<{ client: TestClient; reply: Json }> {
  const client = await TestClient.open(url);
  client.send({ type: 'join', v: 1, ticket, ...(room === undefined ? {} : { room }) });
  const reply = (await client.next((m) => m.type === 'joined' || m.type === 'error')) as Json;
  return { client, reply };
}

const seatBroker = (t: TestContext, extra: Parameters<typeof startBroker>[1] = {}) =>
  startBroker(t, { seatConfirm: { timeoutMs: 250 }, rateLimit: false, ...extra });

test('an assignment carries the server’s own seat; it admits once, only there, only to its room', async (t) => {
  const tb = await seatBroker(t);
  const m1 = await startMedia(t, tb, 'm1', { requireSeat: true });
  const m2 = await startMedia(t, tb, 'm2', { requireSeat: true });
  const client = await SessionClient.open(t, tb);
  const assigned = await client.request({ room: 'seat-room' });
  assert.equal(assigned.type, 'session.assigned');
  const seat = assigned.seat as string;
  const server = assigned.server as { id: string; url: string };
  const claims = payload(seat);
  assert.equal(claims.srv, server.id);
  assert.equal(claims.url, server.url);
  assert.equal(claims.room, 'seat-room');
  assert.equal(claims.sub, assigned.sessionId);
  const [here, other] = server.id === 'm1' ? [m1, m2] : [m2, m1];

  // Another room: refused and not spent.
  const wrongRoom = await join(here.url, seat, 'another-room');
  assert.equal(wrongRoom.reply.code, 'TICKET_WRONG_ROOM');
  // Another server: never its confirmation.
  const replayedElsewhere = await join(other.url, seat);
  assert.equal(replayedElsewhere.reply.code, 'TICKET_WRONG_SERVER');
  // Forged: the payload rewritten (a seat for another session), signature kept.
  const parts = seat.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
  const forged = await join(here.url, `${parts[0]}.${forgedPayload}.${parts[2]}`);
  assert.equal(forged.reply.code, 'TICKET_INVALID');
  // A broker-signed ticket alone is refused by a server that requires seats.
  const brokerTicket = await join(here.url, assigned.ticket as string);
  assert.equal(brokerTicket.reply.code, 'TICKET_INVALID');

  const first = await join(here.url, seat, 'seat-room');
  assert.equal(first.reply.type, 'joined');
  const again = await join(here.url, seat, 'seat-room');
  assert.equal(again.reply.code, 'TICKET_REPLAYED');
  first.client.ws.close();
});

test('a seat not joined within the window expires: TICKET_EXPIRED, and the seat is free again', async (t) => {
  const tb = await seatBroker(t, { seatConfirm: { timeoutMs: 250, windowMs: 1000 } });
  const m1 = await startMedia(t, tb, 'm1', {
    seatWindowMs: 300,
    capacity: { maxPeers: 1, maxRooms: 10, maxPeersPerRoom: 10 },
  });
  const client = await SessionClient.open(t, tb);
  const first = await client.request({ room: 'late' });
  assert.equal(first.type, 'session.assigned');
  // The only seat is held: the next request finds the server full.
  const second = await client.request({ room: 'late-2' });
  assert.equal(second.code, 'NO_SERVER_AVAILABLE');
  await waitFor('the seat window passed', () => Date.now() > Number(payload(first.seat as string).xms));
  const expired = await join(m1.url, first.seat as string);
  assert.equal(expired.reply.code, 'TICKET_EXPIRED');
  // The next load report lets the broker ask again, and the expired seat no longer counts.
  await waitFor('m1 takes a seat again', async () => {
    const retry = await client.request({ room: 'late-3' });
    return retry.type === 'session.assigned';
  });
});

test('a server that refuses (full) is passed over at once and asked nothing more until its next report', async (t) => {
  // Slow heartbeats: the broker's registry still believes m-full has room.
  const tb = await seatBroker(t, { heartbeat: { intervalMs: 60_000, timeoutMs: 120_000 } });
  const full = await FakeMedia.connect(t, tb, 'm-full');
  await startMedia(t, tb, 'm-ok');
  let asked = 0;
  full.inbox.socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as Json;
    if (message.type !== 'reserve') return;
    asked++;
    full.inbox.send({ type: 'refused', v: 1, id: message.id, code: 'SERVER_FULL' });
  });
  const client = await SessionClient.open(t, tb);
  const servers: string[] = [];
  for (let i = 0; i < 20; i++) {
    const reply = await client.request({ room: `refuse-${i}` });
    assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
    servers.push((reply.server as { id: string }).id);
  }
  assert.deepEqual(new Set(servers), new Set(['m-ok']));
  assert.ok(asked <= 1, `m-full was asked ${asked} times`);
  full.load({ peers: 0 });
  await waitFor('m-full is asked again after its report', async () => {
    await client.request({ room: `refuse-after-${asked}` });
    return asked >= 2;
  });
});

test('a server that answers too late is passed over within the seat timeout; its late answer is dropped', async (t) => {
  const tb = await seatBroker(t, { heartbeat: { intervalMs: 60_000, timeoutMs: 120_000 } });
  const slow = await FakeMedia.connect(t, tb, 'm-slow');
  await startMedia(t, tb, 'm-ok');
  slow.inbox.socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as Json;
    if (message.type !== 'reserve') return;
    setTimeout(
      () => slow.inbox.send({ type: 'reserved', v: 1, id: message.id, confirmation: 'a.b.c' }),
      600,
    ).unref();
  });
  const client = await SessionClient.open(t, tb);
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    const reply = await client.request({ room: `slow-${i}` });
    const took = performance.now() - started;
    assert.equal(reply.type, 'session.assigned');
    assert.equal((reply.server as { id: string }).id, 'm-ok');
    assert.ok(took < 1000, `answered in ${took} ms`);
    assert.notEqual(reply.seat, 'a.b.c');
  }
  const metrics = await (await fetch(tb.http('/metrics'))).text();
  assert.match(metrics, /usher_broker_seat_timeouts_total\{server="m-slow"\} [1-9]/);
});

/** One HTTP session request (the reply body: session.assigned or an error). */
async function post(tb: TestBroker, room: string): Promise<Json> {
  return (await postJson(tb.http('/v1/sessions'), { type: 'session.request', v: 1, id: 'r', room })).body;
}

test('two brokers reserving on one server at once never exceed its capacity', async (t) => {
  const a = await seatBroker(t);
  const b = await seatBroker(t);
  const m1 = await startMedia(t, [a, b], 'm1', {
    capacity: { maxPeers: 100, maxRooms: 1000, maxPeersPerRoom: 50 },
  });
  // Each broker alone believes all 100 seats are free: only the server's book can keep the count.
  const all = await Promise.all(Array.from({ length: 300 }, (_, i) => post(i % 2 === 0 ? a : b, `two-${i}`)));
  const assigned = all.filter((reply) => reply.type === 'session.assigned');
  for (const reply of all)
    if (reply.type !== 'session.assigned') assert.equal(reply.code, 'NO_SERVER_AVAILABLE');
  assert.ok(assigned.length > 0 && assigned.length <= 100, `${assigned.length} seats given`);
  // Every assigned client really has its seat: all of them join.
  const joined = await Promise.all(assigned.map((reply) => join(m1.url, reply.seat as string)));
  for (const { reply } of joined) assert.equal(reply.type, 'joined');
  assert.equal(m1.stats().peers, assigned.length);
  for (const { client } of joined) client.ws.close();
});

test('a burst of 500 at a server of capacity 100: exactly 100 seats there, the rest elsewhere', async (t) => {
  const tb = await seatBroker(t);
  await startMedia(t, tb, 'small', { capacity: { maxPeers: 100, maxRooms: 1000, maxPeersPerRoom: 50 } });
  // 100 + 400 seats for 500 requests: the fleet ends exactly full, so any seat given twice shows.
  await startMedia(t, tb, 'big', { capacity: { maxPeers: 400, maxRooms: 1000, maxPeersPerRoom: 50 } });
  const all = await Promise.all(Array.from({ length: 500 }, (_, i) => post(tb, `burst-${i}`)));
  const counts = new Map<string, number>();
  for (const reply of all) {
    assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
    const server = (reply.server as { id: string }).id;
    // No client is given a server that did not confirm: the seat names it.
    assert.equal(payload(reply.seat as string).srv, server);
    counts.set(server, (counts.get(server) ?? 0) + 1);
  }
  assert.equal(counts.get('small'), 100);
  assert.equal(counts.get('big'), 400);
});

test('a burst of 500 at a fleet of 100 seats in all: 100 seats, then a clear capacity error', async (t) => {
  const tb = await seatBroker(t);
  await startMedia(t, tb, 'only', { capacity: { maxPeers: 100, maxRooms: 1000, maxPeersPerRoom: 50 } });
  const all = await Promise.all(Array.from({ length: 500 }, (_, i) => post(tb, `full-${i}`)));
  const assigned = all.filter((reply) => reply.type === 'session.assigned');
  assert.equal(assigned.length, 100);
  for (const reply of all)
    if (reply.type !== 'session.assigned') assert.equal(reply.code, 'NO_SERVER_AVAILABLE');
});

test('the SDK-facing seat names the URL the server registered (a key of its own, not the fleet secret)', async (t) => {
  const tb = await seatBroker(t);
  const m1 = await startMedia(t, tb, 'm1');
  const client = await SessionClient.open(t, tb);
  const assigned = await client.request({ room: 'key-room' });
  const seat = assigned.seat as string;
  // A seat signed with any fleet-derived key is refused: the server's key is its own.
  const fleetKey = parseSecret('broker-test-secret-0123456789').derive('ticket', keys.current.kid);
  assert.ok(fleetKey !== undefined);
  const { createHmac } = await import('node:crypto');
  const [header, body] = seat.split('.');
  const resigned = `${header}.${body}.${createHmac('sha256', fleetKey).update(`${header}.${body}`).digest('base64url')}`;
  const forged = await join(m1.url, resigned);
  assert.equal(forged.reply.code, 'TICKET_INVALID');
  assert.equal(payload(seat).url, m1.url);
});
