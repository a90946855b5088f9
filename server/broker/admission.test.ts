// Room admission at the broker, over real sockets: join tokens (missing, foreign room, expired,
// tampered, retired key, spoofed name), the HTTP Bearer path, resume without a token, and who may
// move a healthy room with `exclude` (members with the move grant, once per interval).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { ApiKeys, signJoinToken } from '../common/join-token.ts';
import {
  FakeMedia,
  healthyServers,
  type Json,
  postJson,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from './testing/harness.ts';

const KEY_1 = { id: 'app1', secret: 'a'.repeat(40) };
const KEY_2 = { id: 'app2', secret: 'b'.repeat(40) };

function token(
  room: string,
  identity: string,
  extra: { name?: string; ttlSeconds?: number; move?: boolean; key?: typeof KEY_1; at?: number } = {},
): string {
  return signJoinToken(
    extra.key ?? KEY_1,
    {
      room,
      identity,
      ...(extra.name === undefined ? {} : { name: extra.name }),
      ttlSeconds: extra.ttlSeconds ?? 600,
      ...(extra.move === undefined ? {} : { grants: { move: extra.move } }),
    },
    extra.at ?? Date.now(),
  );
}

function ticketClaims(reply: Json): Record<string, unknown> {
  const payload = String(reply.ticket).split('.')[1]!;
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function tokenBroker(
  t: TestContext,
  keys: ApiKeys = new ApiKeys([KEY_1, KEY_2]),
  memberMoveIntervalMs = 5000,
): Promise<{ tb: TestBroker; m1: FakeMedia; m2: FakeMedia; client: SessionClient }> {
  const tb = await startBroker(t, { auth: { mode: 'token', apiKeys: keys }, memberMoveIntervalMs });
  const m1 = await FakeMedia.connect(t, tb, 'm1');
  const m2 = await FakeMedia.connect(t, tb, 'm2');
  const client = await SessionClient.open(t, tb);
  return { tb, m1, m2, client };
}

describe('join tokens at the broker', () => {
  test('refuses a request without a token, or with a foreign, expired, tampered or retired-key token', async (t) => {
    const { client } = await tokenBroker(t, new ApiKeys([KEY_2]));
    const codeOf = async (fields: Record<string, unknown>) => (await client.request(fields)).code;

    assert.equal(await codeOf({ room: 'r' }), 'TOKEN_MISSING');
    assert.equal(
      await codeOf({ room: 'r', token: token('other', 'u1', { key: KEY_2 }) }),
      'TOKEN_WRONG_ROOM',
    );
    const expired = token('r', 'u1', { key: KEY_2, ttlSeconds: 60, at: Date.now() - 3600_000 });
    assert.equal(await codeOf({ room: 'r', token: expired }), 'TOKEN_EXPIRED');
    const good = token('r', 'u1', { key: KEY_2 });
    const [header, payload, signature] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, room: 'r', sub: 'admin' })).toString('base64url');
    assert.equal(await codeOf({ room: 'r', token: `${header}.${forged}.${signature}` }), 'TOKEN_INVALID');
    // KEY_1 was removed from the broker's keys (rotated out): its tokens stop working.
    assert.equal(await codeOf({ room: 'r', token: token('r', 'u1', { key: KEY_1 }) }), 'TOKEN_INVALID');
    assert.equal(await codeOf({ room: 'r', token: 'not-a-jws' }), 'TOKEN_MALFORMED');
    const assigned = await client.request({ room: 'r', token: good });
    assert.equal(assigned.type, 'session.assigned', JSON.stringify(assigned));
  });

  test("the ticket carries the token's identity and name, never the client's own name", async (t) => {
    const { client } = await tokenBroker(t);
    const reply = await client.request({
      room: 'r',
      name: 'Mallory pretending',
      token: token('r', 'user-42', { name: 'Alice' }),
    });
    assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
    const claims = ticketClaims(reply);
    assert.equal(claims.name, 'Alice');
    assert.equal(claims.idn, 'user-42');
    assert.notEqual(claims.sub, 'user-42', 'the peer id stays a random session id');
  });

  test('POST /v1/sessions takes the token as Authorization: Bearer', async (t) => {
    const { tb } = await tokenBroker(t);
    const body = { type: 'session.request', v: 1, id: 'h1', room: 'r' };
    const missing = await postJson(tb.http('/v1/sessions'), body);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'TOKEN_MISSING');
    const ok = await postJson(tb.http('/v1/sessions'), body, {
      authorization: `Bearer ${token('r', 'u1', { name: 'Bea' })}`,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ticketClaims(ok.body).name, 'Bea');
    const wrong = await postJson(tb.http('/v1/sessions'), body, {
      authorization: `Bearer ${token('other', 'u1')}`,
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'TOKEN_WRONG_ROOM');
  });

  test('a resume proof admits without a token (even an expired one), with the identity it carried', async (t) => {
    const { client } = await tokenBroker(t);
    const first = await client.request({ room: 'r', token: token('r', 'user-7', { name: 'Cy' }) });
    assert.equal(first.type, 'session.assigned');
    const expired = token('r', 'user-7', { ttlSeconds: 60, at: Date.now() - 3600_000 });
    const again = await client.request({ room: 'r', resume: first.ticket, token: expired });
    assert.equal(again.type, 'session.assigned', JSON.stringify(again));
    assert.equal(again.sessionId, first.sessionId, 'same session');
    assert.equal(ticketClaims(again).idn, 'user-7');
    assert.equal(ticketClaims(again).name, 'Cy');
    const foreign = await client.request({ room: 'elsewhere', resume: first.ticket });
    assert.equal(foreign.code, 'BAD_RESUME', 'a proof admits only to its own room');
  });

  test('the dev token endpoint exists only when asked for, and then signs tokens the broker accepts', async (t) => {
    const { tb } = await tokenBroker(t);
    const absent = await postJson(tb.http('/dev/token'), { room: 'r', name: 'Ann' });
    assert.equal(absent.status, 404);
    const dev = await startBroker(t, {
      auth: { mode: 'token', apiKeys: new ApiKeys([KEY_1]) },
      devTokenEndpoint: true,
    });
    assert.equal(
      dev.logged('DEV TOKEN ENDPOINT IS ON: POST /dev/token signs a join token for anyone (local stack only)')
        .length,
      1,
    );
    await FakeMedia.connect(t, dev, 'm1');
    const minted = await postJson(dev.http('/dev/token'), { room: 'r', name: 'Ann' });
    assert.equal(minted.status, 200);
    const bad = await postJson(dev.http('/dev/token'), { room: '../etc', name: 'Ann' });
    assert.equal(bad.body.code, 'BAD_MESSAGE');
    const client = await SessionClient.open(t, dev);
    const reply = await client.request({ room: 'r', token: minted.body.token });
    assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
    assert.equal(ticketClaims(reply).name, 'Ann');
  });

  test('open mode says loudly that anyone may join, and admits without a token', async (t) => {
    const tb = await startBroker(t, { auth: { mode: 'open' } });
    const warning = tb.records.find((record) => String(record.msg).startsWith('AUTH IS OPEN'));
    assert.ok(warning !== undefined, 'open-mode warning logged');
    assert.equal(warning.level, 40, 'at warn level');
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    const reply = await client.request({ room: 'r', name: 'Dee' });
    assert.equal(reply.type, 'session.assigned');
    assert.equal(ticketClaims(reply).name, 'Dee');
  });
});

describe('moving a room is a member act', () => {
  /** A room live on the server `first` lands on, with one member's assignment. */
  async function liveRoom(t: TestContext, memberMoveIntervalMs = 5000) {
    const setup = await tokenBroker(t, undefined, memberMoveIntervalMs);
    const member = await setup.client.request({ room: 'r', token: token('r', 'member-1') });
    assert.equal(member.type, 'session.assigned');
    const home = (member.server as { id: string }).id;
    const homeMedia = home === 'm1' ? setup.m1 : setup.m2;
    homeMedia.load({ peers: 1, rooms: 1, opened: ['r'] });
    return { ...setup, member, home, homeMedia };
  }

  test("an outsider's exclude of the room's healthy server is ignored: the room stays", async (t) => {
    const { client, tb, home, homeMedia } = await liveRoom(t);
    const outsider = await client.request({ room: 'r', token: token('r', 'outsider'), exclude: [home] });
    assert.equal(outsider.type, 'session.assigned', JSON.stringify(outsider));
    assert.equal((outsider.server as { id: string }).id, home, 'sent to the room where it is');
    await waitFor(
      'the ignored exclude logged',
      () => tb.logged('exclude of the room server ignored').length > 0,
    );
    assert.equal(tb.logged('exclude of the room server ignored')[0]!.reason, 'not-member');
    assert.equal(tb.logged('room moved').length, 0, 'no move');
    assert.equal(
      homeMedia.inbox.messages.filter((message) => message.type === 'migrate').length,
      0,
      'no migrate sent',
    );
  });

  test("a member's exclude moves the room once; a second within the interval does not", async (t) => {
    const { client, tb, member, home, homeMedia } = await liveRoom(t);
    const moved = await client.request({ room: 'r', resume: member.ticket, exclude: [home] });
    assert.equal(moved.type, 'session.assigned', JSON.stringify(moved));
    const away = (moved.server as { id: string }).id;
    assert.notEqual(away, home, 'the room moved');
    await homeMedia.inbox.next((message) => message.type === 'migrate');
    assert.equal(tb.logged('room moved').length, 1);

    // Another member, straight after, excludes the room's new (healthy) server: it stays.
    const second = await client.request({ room: 'r', token: token('r', 'member-2') });
    const stay = await client.request({ room: 'r', resume: second.ticket, exclude: [away] });
    assert.equal((stay.server as { id: string }).id, away, 'no second move within the interval');
    assert.equal(tb.logged('room moved').length, 1);
    await waitFor('the ignored exclude logged', () =>
      tb.logged('exclude of the room server ignored').some((record) => record.reason === 'interval'),
    );
  });

  test('a member without the move grant cannot move the room', async (t) => {
    const { client, home } = await liveRoom(t);
    const joined = await client.request({ room: 'r', token: token('r', 'viewer', { move: false }) });
    assert.equal(joined.type, 'session.assigned');
    const tried = await client.request({ room: 'r', resume: joined.ticket, exclude: [home] });
    assert.equal((tried.server as { id: string }).id, home, 'the room stays');
  });

  test('a server the broker sees lost is left at once, whatever the interval', async (t) => {
    const { client, tb, m1, m2, member, home } = await liveRoom(t, 60_000);
    const moved = await client.request({ room: 'r', resume: member.ticket, exclude: [home] });
    const away = (moved.server as { id: string }).id;
    assert.notEqual(away, home);
    // The room's new server goes away (its control socket closes) within the interval.
    (away === 'm1' ? m1 : m2).inbox.socket.close();
    await waitFor('the broker to drop it', async () => (await healthyServers(tb)) === 1);
    const back = await client.request({ room: 'r', resume: moved.ticket, exclude: [away] });
    assert.equal(back.type, 'session.assigned', JSON.stringify(back));
    assert.equal((back.server as { id: string }).id, home, 'moved off the lost server at once');
  });
});
