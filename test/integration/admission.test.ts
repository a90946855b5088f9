// Admission end to end: a broker in token mode, two real media servers and the real SDK (ws, a
// fake RTCPeerConnection). One identity per room (the first session gets SESSION_REPLACED and
// stays closed), a failover after the join token expired (the resume proof is enough), and a
// new session whose token expired asks the application for another once.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { keys, startBroker, waitFor } from '../../server/broker/testing/harness.ts';
import { ApiKeys, JOIN_CLOCK_TOLERANCE_S, signJoinToken } from '../../server/common/join-token.ts';
import { createLogger } from '../../server/common/logger.ts';
import { createMediaServer, type MediaServer } from '../../server/media/index.ts';
import type { UsherClientError } from '../../web/sdk/errors.ts';
import { UsherSession } from '../../web/sdk/session.ts';
import { fakeRtc } from '../../web/sdk/testing/fake-rtc.ts';
import type { WebSocketConstructor } from '../../web/sdk/websocket.ts';

const KEY = { id: 'app', secret: 'k'.repeat(40) };
const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

async function stack(t: TestContext) {
  const tb = await startBroker(t, {
    auth: { mode: 'token', apiKeys: new ApiKeys([KEY]) },
    ping: { intervalMs: 200, timeoutMs: 800 },
  });
  const logger = createLogger({ name: 'media', level: 'silent' });
  const media = new Map<string, MediaServer>();
  for (const id of ['m1', 'm2']) {
    const server = await createMediaServer({ id, port: 0, keys, logger, brokerUrl: tb.broker.url });
    t.after(() => server.close());
    media.set(id, server);
  }
  await waitFor('both media servers registered', async () => {
    const health = (await (await fetch(tb.http('/healthz'))).json()) as { servers: number };
    return health.servers === 2;
  });
  return { tb, media, sessionUrl: tb.ws('/v1/session') };
}

function session(
  t: TestContext,
  brokerUrl: string,
  options: { token?: string; getToken?: () => Promise<string>; name?: string },
) {
  const created = new UsherSession({
    brokerUrl,
    room: 'r',
    WebSocket: NodeWebSocket,
    createPeerConnection: fakeRtc(`pc-${Math.random()}`).create,
    ...options,
  });
  const errors: UsherClientError[] = [];
  created.on('error', (error) => errors.push(error));
  t.after(() => created.leave());
  return { session: created, errors };
}

const token = (identity: string, name: string, at = Date.now(), ttlSeconds = 600) =>
  signJoinToken(KEY, { room: 'r', identity, name, ttlSeconds }, at);

describe('admission with the real SDK and media servers', () => {
  test('a second session of the same identity replaces the first, which ends and does not rejoin', async (t) => {
    const { sessionUrl } = await stack(t);
    const first = session(t, sessionUrl, { token: token('alice', 'Alice') });
    await first.session.join();
    const bob = session(t, sessionUrl, { token: token('bob', 'Bob') });
    await bob.session.join();
    const second = session(t, sessionUrl, { token: token('alice', 'Alice (phone)') });
    await second.session.join();

    await waitFor('the first session to end', () => first.session.state === 'closed');
    assert.deepEqual(
      first.errors.map((error) => error.code),
      ['SESSION_REPLACED'],
    );
    assert.equal(second.session.state, 'joined');
    assert.notEqual(second.session.peerId, first.session.peerId);
    // Bob sees one Alice: the replaced session left.
    await waitFor('bob to see one alice', () => {
      const peers = bob.session.peers().filter((peer) => peer.present);
      return peers.length === 1 && peers[0]?.peerId === second.session.peerId;
    });
    assert.equal(first.session.state, 'closed', 'still closed: no rejoin');
  });

  test('a failover after the join token expired rejoins on the resume proof alone', async (t) => {
    const { media, sessionUrl } = await stack(t);
    // A one-second token issued so that it expires (with the broker's clock tolerance) in ~2 s.
    const issuedAt = Date.now() - (JOIN_CLOCK_TOLERANCE_S - 1) * 1000;
    const expiresAt = (Math.floor(issuedAt / 1000) + 1 + JOIN_CLOCK_TOLERANCE_S) * 1000;
    let asked = 0;
    const member = session(t, sessionUrl, {
      token: token('carol', 'Carol', issuedAt, 1),
      getToken: async () => {
        asked += 1;
        return token('carol', 'Carol');
      },
    });
    await member.session.join();
    const firstServer = member.session.serverId!;
    const peerId = member.session.peerId;
    await waitFor('the join token to expire', () => Date.now() > expiresAt + 200, 10_000);

    const failovers: string[] = [];
    member.session.on('failover', (record) => failovers.push(record.to));
    await media.get(firstServer)!.drain();
    await waitFor('the failover', () => failovers.length === 1 && member.session.state === 'joined', 10_000);
    assert.notEqual(member.session.serverId, firstServer, 'on the other server');
    assert.equal(member.session.peerId, peerId, 'the same session');
    assert.equal(asked, 0, 'no new token was needed');
    assert.deepEqual(member.errors, []);
  });

  test('a new session whose token expired asks the application for one, once', async (t) => {
    const { sessionUrl } = await stack(t);
    let asked = 0;
    const late = session(t, sessionUrl, {
      token: token('dan', 'Dan', Date.now() - 3600_000, 60),
      getToken: async () => {
        asked += 1;
        return token('dan', 'Dan');
      },
    });
    await late.session.join();
    assert.equal(late.session.state, 'joined');
    assert.equal(asked, 1);

    const stale = session(t, sessionUrl, {
      token: token('eve', 'Eve', Date.now() - 3600_000, 60),
      getToken: async () => token('eve', 'Eve', Date.now() - 3600_000, 60),
    });
    await assert.rejects(stale.session.join(), (error: UsherClientError) => error.code === 'TOKEN_EXPIRED');
  });
});
