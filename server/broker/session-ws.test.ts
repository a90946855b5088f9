// Session requests over the broker's WebSocket (/v1/session): assignment by room, tickets,
// exclude and resume, coded errors for bad frames, the in-flight cap.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSecret } from '../common/keys.ts';
import { signTicket, verifyTicket } from '../common/tickets.ts';
import { DEFAULT_RESUME_TTL_SECONDS } from './index.ts';
import { MemoryPinStore, type Pin } from './pin-store.ts';
import { SESSION_SOCKET_MAX_PAYLOAD } from './session-routes.ts';
import { FakeMedia, getJson, keys, SECRET, SessionClient, startBroker } from './testing/harness.ts';

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
