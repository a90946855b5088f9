// Webhooks from a real broker and real media servers (sockets on port 0) to a receiver that
// verifies every signature: a join and a leave, a media server lost, a receiver that was down,
// and two brokers sharing a redis-server that send each event once.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { WebSocket } from 'ws';
import { UsherSession } from '../../web/sdk/session.ts';
import { fakeRtc } from '../../web/sdk/testing/fake-rtc.ts';
import type { WebSocketConstructor } from '../../web/sdk/websocket.ts';
import { ApiKeys } from '../common/join-token.ts';
import { createMediaServer, type MediaServer } from '../media/index.ts';
import { captureLogger as mediaLogger } from '../media/testing/harness.ts';
import type { WebhookEvent } from '../sdk/index.ts';
import { createBroker } from './index.ts';
import { RedisWebhookOnceStore } from './redis-webhook-once.ts';
import { captureLogger, getJson, keys, startBroker, type TestBroker, waitFor } from './testing/harness.ts';
import { startRedis } from './testing/redis-server.ts';
import { startWebhookReceiver, type WebhookReceiver } from './testing/webhook-receiver.ts';

const API_KEYS = ApiKeys.parse('app1:webhook-test-secret-0123456789abcdefgh');
const FAST = { initialBackoffMs: 100, maxBackoffMs: 400, requestTimeoutMs: 1000 };
let counter = 0;

async function startMedia(t: TestContext, id: string, brokerUrls: string[]): Promise<MediaServer> {
  const server = await createMediaServer({ id, port: 0, keys, logger: mediaLogger().logger, brokerUrls });
  t.after(() => server.close());
  return server;
}

function member(t: TestContext, brokerUrl: string, room: string): UsherSession {
  counter++;
  const session = new UsherSession({
    brokerUrl: `${brokerUrl.replace(/^http/, 'ws')}/v1/session`,
    room,
    name: `user${counter}`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    createPeerConnection: fakeRtc(`hook${counter}-`).create,
  });
  t.after(() => session.leave());
  return session;
}

async function servers(tb: TestBroker): Promise<number> {
  return (await getJson(tb.http('/healthz'))).body.servers as number;
}

function names(events: readonly WebhookEvent[], room: string): string[] {
  return events.filter((event) => 'room' in event && event.room === room).map((event) => event.event);
}

describe('webhooks from a real fleet', () => {
  test('a join and a leave: room.started, participant.joined, participant.left, room.finished, signed and in order', async (t) => {
    const receiver = await startWebhookReceiver(t, API_KEYS);
    const tb = await startBroker(t, {
      apiKeys: API_KEYS,
      webhookUrls: [receiver.url],
      webhookDelivery: FAST,
    });
    await startMedia(t, 'm1', [tb.broker.url]);
    await waitFor('the media server', async () => (await servers(tb)) === 1);
    const alice = member(t, tb.broker.url, 'standup');
    await alice.join();
    await waitFor('the join events', () => receiver.events.length >= 2);
    await alice.leave();
    await waitFor('the leave events', () => receiver.events.length >= 4);
    assert.deepEqual(names(receiver.events, 'standup'), [
      'room.started',
      'participant.joined',
      'participant.left',
      'room.finished',
    ]);
    const joined = receiver.of('participant.joined')[0] as Extract<
      WebhookEvent,
      { event: 'participant.joined' }
    >;
    assert.equal(joined.server, 'm1');
    assert.equal(joined.participant.peerId, alice.peerId ?? joined.participant.peerId);
    assert.equal(joined.participant.name, `user${counter}`);
    const left = receiver.of('participant.left')[0] as Extract<WebhookEvent, { event: 'participant.left' }>;
    assert.equal(left.reason, 'left');
    assert.deepEqual(receiver.refused, []);
    assert.match(
      await (await fetch(tb.http('/metrics'))).text(),
      /^usher_broker_webhooks_total\{result="delivered"\} 4$/m,
    );
  });

  test('a join and a leave between two heartbeats (one report): the same four events, in order', async (t) => {
    const receiver = await startWebhookReceiver(t, API_KEYS);
    const tb = await startBroker(t, {
      apiKeys: API_KEYS,
      webhookUrls: [receiver.url],
      webhookDelivery: FAST,
      heartbeat: { intervalMs: 2000, timeoutMs: 6000 },
    });
    await startMedia(t, 'm1', [tb.broker.url]);
    await waitFor('the media server', async () => (await servers(tb)) === 1);
    const bob = member(t, tb.broker.url, 'brief');
    await bob.join();
    await bob.leave();
    await waitFor('the events', () => names(receiver.events, 'brief').length >= 4, 10_000);
    assert.deepEqual(names(receiver.events, 'brief'), [
      'room.started',
      'participant.joined',
      'participant.left',
      'room.finished',
    ]);
    const left = receiver.of('participant.left')[0] as Extract<WebhookEvent, { event: 'participant.left' }>;
    assert.equal(left.reason, 'left');
    assert.equal(left.participant.name, `user${counter}`);
  });

  test('a media server lost: server.lost, room.moved (dead), the member left as lost and joined on the new server', async (t) => {
    const receiver = await startWebhookReceiver(t, API_KEYS);
    const tb = await startBroker(t, {
      apiKeys: API_KEYS,
      webhookUrls: [receiver.url],
      webhookDelivery: FAST,
      lostMemberGraceMs: 300,
    });
    const media = new Map<string, MediaServer>();
    for (const id of ['m1', 'm2']) media.set(id, await startMedia(t, id, [tb.broker.url]));
    await waitFor('both media servers', async () => (await servers(tb)) === 2);
    const bob = member(t, tb.broker.url, 'ops');
    await bob.join();
    const home = bob.serverId!;
    const peerId = bob.peerId;
    await waitFor('the join', () => receiver.of('participant.joined').length === 1);
    await media.get(home)!.close();
    await waitFor(
      'the failover and its events',
      () => receiver.of('participant.joined').length === 2,
      10_000,
    );
    await waitFor('the lost member', () => receiver.of('participant.left').length === 1, 5000);
    const lost = receiver.of('server.lost')[0] as Extract<WebhookEvent, { event: 'server.lost' }>;
    assert.deepEqual([lost.server, lost.cause, lost.rooms], [home, 'dead', ['ops']]);
    const moved = receiver.of('room.moved') as Extract<WebhookEvent, { event: 'room.moved' }>[];
    assert.equal(moved.length, 1);
    assert.equal(moved[0]!.from, home);
    assert.notEqual(moved[0]!.to, home);
    assert.equal(moved[0]!.cause, 'dead');
    const left = receiver.of('participant.left')[0] as Extract<WebhookEvent, { event: 'participant.left' }>;
    assert.deepEqual([left.server, left.reason, left.participant.peerId], [home, 'lost', peerId]);
    const rejoined = receiver.of('participant.joined')[1] as Extract<
      WebhookEvent,
      { event: 'participant.joined' }
    >;
    assert.deepEqual([rejoined.server, rejoined.participant.peerId], [moved[0]!.to, peerId]);
    assert.deepEqual(receiver.refused, []);
  });

  test('a receiver down for 3 s then up gets every event once, in order per room', async (t) => {
    const receiver = await startWebhookReceiver(t, API_KEYS);
    const tb = await startBroker(t, {
      apiKeys: API_KEYS,
      webhookUrls: [receiver.url],
      webhookDelivery: FAST,
    });
    await startMedia(t, 'm1', [tb.broker.url]);
    await waitFor('the media server', async () => (await servers(tb)) === 1);
    receiver.down = true;
    const downAt = Date.now();
    const sessions = ['north', 'south', 'north', 'south'].map((room) => member(t, tb.broker.url, room));
    for (const session of sessions) await session.join();
    await sessions[0]!.leave();
    await sessions[1]!.leave();
    // 4 joins, 2 starts, 2 leaves; the receiver refuses every attempt until it is up.
    await waitFor('retries against the dead receiver', async () =>
      /usher_broker_webhooks_total\{result="retried"\} ([3-9]|\d\d+)/.test(
        await (await fetch(tb.http('/metrics'))).text(),
      ),
    );
    await waitFor('3 s down', () => Date.now() - downAt >= 3000, 5000);
    assert.equal(receiver.events.length, 0);
    receiver.down = false;
    await waitFor('every event', () => receiver.events.length >= 8, 10_000);
    for (const room of ['north', 'south'])
      assert.deepEqual(names(receiver.events, room), [
        'room.started',
        'participant.joined',
        'participant.joined',
        'participant.left',
      ]);
    const ids = receiver.events.map((event) => event.id);
    assert.equal(new Set(ids).size, ids.length, 'each event once');
    assert.deepEqual(receiver.refused, []);
    const text = await (await fetch(tb.http('/metrics'))).text();
    assert.match(text, /^usher_broker_webhooks_total\{result="delivered"\} 8$/m);
    assert.doesNotMatch(text, /result="dropped"\} [1-9]/);
  });

  test('two brokers sharing a redis-server send each event once', async (t) => {
    const redis = await startRedis(t);
    const receiver = await startWebhookReceiver(t, API_KEYS);
    const brokers: TestBroker[] = [];
    for (let index = 0; index < 2; index++) {
      const once = new RedisWebhookOnceStore({ url: redis.url, keyPrefix: 'usher:test-webhook:' });
      t.after(() => once.close());
      assert.ok(await once.ready(5000));
      const { logger, records } = captureLogger();
      const broker = await createBroker({
        port: 0,
        keys,
        logger,
        auth: { mode: 'open' },
        warmUpMs: 0,
        apiKeys: API_KEYS,
        webhookUrls: [receiver.url],
        webhookOnce: once,
        webhookDelivery: FAST,
      });
      t.after(() => broker.close());
      brokers.push({
        broker,
        records,
        http: (path) => `${broker.url}${path}`,
        ws: (path) => `${broker.url.replace(/^http/, 'ws')}${path}`,
        logged: (msg) => records.filter((record) => record.msg === msg),
      });
    }
    await startMedia(
      t,
      'm1',
      brokers.map((tb) => tb.broker.url),
    );
    for (const tb of brokers)
      await waitFor('the media server on each broker', async () => (await servers(tb)) === 1);
    const carol = member(t, brokers[0]!.broker.url, 'shared');
    await carol.join();
    await carol.leave();
    await waitFor('the four events', () => receiver.events.length >= 4);
    let duplicates = 0;
    await waitFor('both brokers settled', async () => {
      duplicates = 0;
      for (const tb of brokers) {
        const match = /^usher_broker_webhooks_total\{result="duplicate"\} (\d+)$/m.exec(
          await (await fetch(tb.http('/metrics'))).text(),
        );
        duplicates += Number(match?.[1] ?? 0);
      }
      return duplicates === 4;
    });
    assert.deepEqual(names(receiver.events, 'shared'), [
      'room.started',
      'participant.joined',
      'participant.left',
      'room.finished',
    ]);
    assert.deepEqual(receiver.refused, [], 'no event reached the receiver twice');
  });
});

export type { WebhookReceiver };
