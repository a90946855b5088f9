// The admin API (bearer token, listing, drain), /healthz and /metrics.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeMedia, getJson, SessionClient, startBroker, waitFor } from './testing/harness.ts';

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
