// The live-room rules through a real broker (sockets on port 0): readiness during the
// warm-up, a stalled event loop that loses no server, splits found at registration, and a
// member's move that reaches the members on a real media server; with their logs and metrics.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMediaServer } from '../media/index.ts';
import { captureLogger as mediaLogger, TestClient } from '../media/testing/harness.ts';
import {
  FakeMedia,
  getJson,
  keys,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from './testing/harness.ts';

async function metricsText(tb: TestBroker): Promise<string> {
  return (await fetch(tb.http('/metrics'))).text();
}

describe('readiness', () => {
  test('/readyz is 503 without servers and during the warm-up, 200 after; /healthz is 200 throughout', async (t) => {
    const tb = await startBroker(t, { warmUpMs: 1500 });
    const early = await getJson(tb.http('/readyz'));
    assert.equal(early.status, 503);
    assert.deepEqual(early.body, { status: 'not-ready', servers: 0, warmingUp: true, store: 'ok' });
    assert.equal((await getJson(tb.http('/healthz'))).status, 200);
    await waitFor(
      'the warm-up to end',
      async () => (await getJson(tb.http('/readyz'))).body.warmingUp === false,
    );
    assert.equal((await getJson(tb.http('/readyz'))).status, 503, 'still no server');
    await FakeMedia.connect(t, tb, 'm1');
    const ready = await getJson(tb.http('/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', servers: 1, warmingUp: false, store: 'ok' });
  });

  test('a request during the warm-up for a room pinned nowhere waits for its server to register', async (t) => {
    const tb = await startBroker(t, { warmUpMs: 5000 });
    const client = await SessionClient.open(t, tb);
    const asked = client.request({ room: 'lobby' });
    await FakeMedia.connect(t, tb, 'other');
    await FakeMedia.connect(t, tb, 'home', { rooms: ['lobby'] });
    assert.equal(((await asked).server as { id: string }).id, 'home');
    assert.equal(tb.logged('room moved').length, 0);
  });
});

describe('a stalled broker', () => {
  test('after its event loop stood still past the heartbeat timeout it loses no server', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 400 }, warmUpMs: 400 });
    await FakeMedia.connect(t, tb, 'm1', { heartbeatMs: 50 });
    await FakeMedia.connect(t, tb, 'm2', { heartbeatMs: 50 });
    await waitFor('readiness', async () => (await getJson(tb.http('/readyz'))).status === 200);
    // The stall itself: nothing in this process runs for 1 s (as under SIGSTOP).
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      // busy: the event loop is blocked
    }
    await waitFor('the stall to be noticed', () => tb.logged('broker event loop stalled').length > 0);
    await waitFor(
      'the warm-up after the stall to end',
      async () => (await getJson(tb.http('/readyz'))).status === 200,
    );
    assert.equal(tb.logged('media server lost').length, 0);
    assert.equal((await getJson(tb.http('/healthz'))).body.servers, 2);
  });
});

describe('splits and moves', () => {
  test('a server registering with a room another server holds under its pin is told to migrate it', async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1', { rooms: ['lobby'] });
    await waitFor('the pin from m1’s registration', async () =>
      /usher_broker_pin_repairs_total\{cause="registration"\} 1/.test(await metricsText(tb)),
    );
    const m2 = await FakeMedia.connect(t, tb, 'm2', { rooms: ['lobby'] });
    assert.deepEqual(await m2.inbox.next((message) => message.type === 'migrate'), {
      type: 'migrate',
      v: 1,
      room: 'lobby',
      reason: 'split',
    });
    const [split] = tb.logged('room split detected');
    assert.deepEqual([split?.room, split?.servers, split?.winner], ['lobby', ['m1', 'm2'], 'm1']);
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'm1');
    m2.load({ closed: ['lobby'] });
    await waitFor('the split repaired', async () =>
      /^usher_broker_room_splits_repaired_total 1$/m.test(await metricsText(tb)),
    );
    const text = await metricsText(tb);
    assert.match(text, /^usher_broker_room_splits_detected_total 1$/m);
    assert.match(text, /^usher_broker_room_moves_total\{cause="split"\} 1$/m);
    const [moved] = tb.logged('room moved');
    assert.deepEqual([moved?.room, moved?.from, moved?.to, moved?.cause], ['lobby', 'm2', 'm1', 'split']);
  });

  test("a member's exclude of a healthy server: the room's members there get migrate and keep their peer ids", async (t) => {
    const tb = await startBroker(t);
    const { logger } = mediaLogger();
    const servers = await Promise.all(
      ['m1', 'm2'].map((id) => createMediaServer({ id, port: 0, keys, logger, brokerUrl: tb.broker.url })),
    );
    t.after(() => Promise.all(servers.map((server) => server.close())));
    await waitFor('both media servers', async () => (await getJson(tb.http('/healthz'))).body.servers === 2);
    const alice = await SessionClient.open(t, tb);
    const assigned = await alice.request({ room: 'lobby' });
    const home = assigned.server as { id: string; url: string };
    const member = await TestClient.open(home.url);
    t.after(() => member.close());
    member.send({ type: 'join', v: 1, ticket: assigned.ticket, room: 'lobby' });
    await member.nextOfType('joined');

    const bob = await SessionClient.open(t, tb);
    const moved = await bob.request({ room: 'lobby', exclude: [home.id] });
    const target = (moved.server as { id: string }).id;
    assert.notEqual(target, home.id);
    assert.deepEqual(await member.nextOfType('migrate'), { type: 'migrate', v: 1, reason: 'moved' });
    // The member comes back as the SDK does: excluding its server, proving its session.
    const back = await alice.request({ room: 'lobby', exclude: [home.id], resume: assigned.ticket });
    assert.equal((back.server as { id: string }).id, target);
    assert.equal(back.sessionId, assigned.sessionId);
    assert.match(await metricsText(tb), /^usher_broker_room_moves_total\{cause="member"\} 1$/m);
    const [line] = tb.logged('room moved');
    assert.deepEqual([line?.room, line?.from, line?.to, line?.cause], ['lobby', home.id, target, 'member']);
  });
});
