// The control channel over real sockets: media servers register, a held id is refused,
// bad frames get typed errors, and a registration rebuilds its rooms' pins.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { signControlToken } from '../common/tickets.ts';
import {
  FakeMedia,
  getJson,
  healthyServers,
  keys,
  openSocket,
  registerMessage,
  SessionClient,
  startBroker,
  waitFor,
} from './testing/harness.ts';

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
      assert.equal(await healthyServers(tb), 0);
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
