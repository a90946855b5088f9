// The server API (`/v1/rooms…`) through a real broker and real media servers with the SDK as
// members: list and get rooms, remove a participant (PARTICIPANT_REMOVED, no rejoin), close a
// room, an operator's move (members migrate with their peer ids), and refused tokens.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { WebSocket } from 'ws';
import type { RoomInfo } from '../../shared/protocol/server-api.ts';
import type { UsherClientError } from '../../web/sdk/errors.ts';
import { UsherSession } from '../../web/sdk/session.ts';
import { fakeRtc } from '../../web/sdk/testing/fake-rtc.ts';
import type { WebSocketConstructor } from '../../web/sdk/websocket.ts';
import { signHs256 } from '../common/compact-jws.ts';
import { ApiKeys, signJoinToken } from '../common/join-token.ts';
import { signServerToken } from '../common/server-token.ts';
import { createMediaServer } from '../media/index.ts';
import { captureLogger as mediaLogger } from '../media/testing/harness.ts';
import { createServerToken } from '../sdk/index.ts';
import { getJson, keys, startBroker, type TestBroker, waitFor } from './testing/harness.ts';
import { signWebhook } from './webhooks.ts';

const API_KEYS = ApiKeys.parse('app1:server-api-secret-0123456789abcdefghij');
const OTHER_KEY = { id: 'app1', secret: 'not-the-broker-secret-0123456789abcdef' };
let counter = 0;

interface Member {
  session: UsherSession;
  warnings: UsherClientError[];
  errors: UsherClientError[];
}

function member(t: TestContext, tb: TestBroker, room: string): Member {
  counter++;
  const session = new UsherSession({
    brokerUrl: tb.ws('/v1/session'),
    room,
    name: `user${counter}`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    createPeerConnection: fakeRtc(`api${counter}-`).create,
  });
  const warnings: UsherClientError[] = [];
  const errors: UsherClientError[] = [];
  session.on('warning', (error) => warnings.push(error));
  session.on('error', (error) => errors.push(error));
  t.after(() => session.leave());
  return { session, warnings, errors };
}

async function fleet(t: TestContext, ids: string[]): Promise<TestBroker> {
  const tb = await startBroker(t, { apiKeys: API_KEYS });
  for (const id of ids) {
    const server = await createMediaServer({
      id,
      port: 0,
      keys,
      logger: mediaLogger().logger,
      brokerUrl: tb.broker.url,
    });
    t.after(() => server.close());
  }
  await waitFor(
    'the media servers',
    async () => (await getJson(tb.http('/healthz'))).body.servers === ids.length,
  );
  return tb;
}

function bearer(): Record<string, string> {
  return { authorization: `Bearer ${createServerToken({ apiKey: API_KEYS.current })}` };
}

async function call(
  tb: TestBroker,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = bearer(),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(tb.http(path), {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function room(tb: TestBroker, name: string): Promise<RoomInfo | undefined> {
  const answer = await call(tb, 'GET', `/v1/rooms/${name}`);
  return answer.status === 200 ? (answer.body as unknown as RoomInfo) : undefined;
}

describe('server API', () => {
  test('lists rooms with their server and members, and gets one room', async (t) => {
    const tb = await fleet(t, ['m1']);
    const alice = member(t, tb, 'standup');
    const bob = member(t, tb, 'standup');
    await alice.session.join();
    await bob.session.join();
    await waitFor(
      'both members reported',
      async () => (await room(tb, 'standup'))?.participants.length === 2,
    );
    const list = await call(tb, 'GET', '/v1/rooms');
    assert.equal(list.status, 200);
    const rooms = list.body.rooms as RoomInfo[];
    assert.equal(rooms.length, 1);
    assert.equal(rooms[0]!.room, 'standup');
    assert.equal(rooms[0]!.server, 'm1');
    assert.deepEqual(
      rooms[0]!.participants.map((p) => p.peerId).sort(),
      [alice.session.peerId, bob.session.peerId].sort(),
    );
    for (const p of rooms[0]!.participants) {
      assert.equal(p.identity, p.peerId, 'identity is the peer id until tickets carry the token identity');
      assert.match(p.name, /^user\d+$/);
      assert.ok(Math.abs(Date.now() - p.joinedAt) < 60_000);
    }
    const missing = await call(tb, 'GET', '/v1/rooms/nowhere');
    assert.deepEqual([missing.status, missing.body.code], [404, 'ROOM_NOT_FOUND']);
  });

  test('removing a participant: its client gets PARTICIPANT_REMOVED and does not rejoin; the other stays', async (t) => {
    const tb = await fleet(t, ['m1']);
    const alice = member(t, tb, 'review');
    const bob = member(t, tb, 'review');
    await alice.session.join();
    await bob.session.join();
    await waitFor('both members reported', async () => (await room(tb, 'review'))?.participants.length === 2);
    const removed = await call(tb, 'DELETE', `/v1/rooms/review/participants/${alice.session.peerId}`);
    assert.deepEqual(removed, { status: 200, body: { room: 'review', removed: [alice.session.peerId] } });
    await waitFor('alice closed', () => alice.session.state === 'closed');
    assert.ok(alice.warnings.some((warning) => warning.code === 'PARTICIPANT_REMOVED'));
    assert.equal(
      alice.errors.at(-1)?.code,
      'PARTICIPANT_REMOVED',
      'the session ends with the reason the server gave',
    );
    await waitFor(
      'alice gone from the room',
      async () => (await room(tb, 'review'))?.participants.length === 1,
    );
    // Give a rejoin every chance to show up: one more report period, and alice is still out.
    const until = Date.now() + 1500;
    await waitFor('a heartbeat later', () => Date.now() >= until, 3000);
    assert.deepEqual(
      (await room(tb, 'review'))?.participants.map((p) => p.peerId),
      [bob.session.peerId],
    );
    assert.equal(bob.session.state, 'joined');
    const again = await call(tb, 'DELETE', `/v1/rooms/review/participants/${alice.session.peerId}`);
    assert.deepEqual([again.status, again.body.code], [404, 'PARTICIPANT_NOT_FOUND']);
  });

  test('closing a room removes every member', async (t) => {
    const tb = await fleet(t, ['m1']);
    const members = [member(t, tb, 'party'), member(t, tb, 'party')];
    for (const m of members) await m.session.join();
    await waitFor('both members reported', async () => (await room(tb, 'party'))?.participants.length === 2);
    const closed = await call(tb, 'DELETE', '/v1/rooms/party');
    assert.equal(closed.status, 200);
    assert.equal((closed.body.removed as string[]).length, 2);
    await waitFor('both closed', () => members.every((m) => m.session.state === 'closed'));
    await waitFor('the room gone', async () => (await room(tb, 'party')) === undefined);
    for (const m of members) assert.ok(m.warnings.some((warning) => warning.code === 'PARTICIPANT_REMOVED'));
  });

  test("an operator's move: members migrate to the chosen server and keep their peer ids", async (t) => {
    const tb = await fleet(t, ['m1', 'm2']);
    const members = [member(t, tb, 'moving'), member(t, tb, 'moving')];
    for (const m of members) await m.session.join();
    const from = members[0]!.session.serverId!;
    const to = from === 'm1' ? 'm2' : 'm1';
    const peerIds = members.map((m) => m.session.peerId).sort();
    await waitFor('both members reported', async () => (await room(tb, 'moving'))?.participants.length === 2);
    const moved = await call(tb, 'POST', '/v1/rooms/moving/move', { to });
    assert.deepEqual(moved, { status: 200, body: { room: 'moving', from, to, cause: 'operator' } });
    await waitFor(
      'both members on the new server',
      () => members.every((m) => m.session.serverId === to),
      10_000,
    );
    assert.deepEqual(members.map((m) => m.session.peerId).sort(), peerIds);
    await waitFor('the room reported there', async () => {
      const info = await room(tb, 'moving');
      return info?.server === to && info.participants.length === 2;
    });
    assert.match(
      await (await fetch(tb.http('/metrics'))).text(),
      /^usher_broker_room_moves_total\{cause="operator"\} 1$/m,
    );
    const bad = await call(tb, 'POST', '/v1/rooms/moving/move', { to: 'nowhere' });
    assert.deepEqual([bad.status, bad.body.code], [503, 'NO_SERVER_AVAILABLE']);
    const malformed = await call(tb, 'POST', '/v1/rooms/moving/move', { to: 7 });
    assert.deepEqual([malformed.status, malformed.body.code], [400, 'BAD_MESSAGE']);
  });

  test('missing, foreign, expired and wrong-type tokens are refused with SERVER_TOKEN_INVALID', async (t) => {
    const tb = await fleet(t, []);
    const now = Date.now();
    const refused: Array<[string, Record<string, string>]> = [
      ['missing', {}],
      ['not bearer', { authorization: 'Basic abc' }],
      ['garbage', { authorization: 'Bearer not.a.token' }],
      ['another secret', { authorization: `Bearer ${signServerToken(OTHER_KEY)}` }],
      ['expired', { authorization: `Bearer ${signServerToken(API_KEYS.current, 60, now - 120_000)}` }],
      [
        'longer than an hour',
        {
          authorization: `Bearer ${signHs256(
            Buffer.from(API_KEYS.current.secret),
            'app1',
            'usher-server+jwt',
            `{"iat":${Math.floor(now / 1000)},"exp":${Math.floor(now / 1000) + 86_400}}`,
          )}`,
        },
      ],
      [
        'a join token',
        {
          authorization: `Bearer ${signJoinToken(API_KEYS.current, { room: 'x', identity: 'u', ttlSeconds: 60 })}`,
        },
      ],
      ['a webhook signature', { authorization: `Bearer ${signWebhook(API_KEYS.current, '{}')}` }],
    ];
    for (const [what, headers] of refused) {
      const answer = await call(tb, 'GET', '/v1/rooms', undefined, headers);
      assert.deepEqual([what, answer.status, answer.body.code], [what, 401, 'SERVER_TOKEN_INVALID']);
    }
    assert.equal((await call(tb, 'GET', '/v1/rooms')).status, 200);
  });
});
