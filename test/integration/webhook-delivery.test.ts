// Webhook delivery to a real node:http receiver on 127.0.0.1 that verifies every POST with
// the SDK's verifyWebhook: signatures and replays, a receiver that is down for seconds and
// comes back (every event once, in order per room), a slow receiver (enqueue never waits),
// and two dispatchers ("brokers") sharing claims through a real redis-server.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { Registry } from 'prom-client';
import { RedisWebhookOnceStore } from '../../server/broker/redis-webhook-once.ts';
import { captureLogger } from '../../server/broker/testing/harness.ts';
import { startRedis } from '../../server/broker/testing/redis-server.ts';
import { MemoryWebhookOnceStore, type WebhookOnceStore } from '../../server/broker/webhook-once.ts';
import {
  createWebhookCounter,
  WebhookDispatcher,
  type WebhookEventInput,
} from '../../server/broker/webhooks.ts';
import { MemoryReplayGuard, verifyWebhook } from '../../server/sdk/index.ts';
import { UsherError } from '../../shared/errors.ts';
import type { WebhookEvent } from '../../shared/protocol/webhooks.ts';
import { waitUntil } from '../../shared/testing/wait.ts';

const KEY = { id: 'hooks', secret: 'integration-webhook-secret-0123456789' };

interface Receiver {
  readonly url: string;
  readonly port: number;
  /** Events accepted, in arrival order. */
  readonly events: WebhookEvent[];
  /** Refusals by code (WEBHOOK_REPLAYED is answered 200, as docs/INTEGRATION.md advises). */
  readonly refused: Record<string, number>;
  /** Raw requests as received, to replay. */
  readonly raw: Array<{ body: string; authorization: string }>;
  delayMs: number;
  close(): Promise<void>;
}

/** The example receiver of docs/INTEGRATION.md, on 127.0.0.1 (port 0, or the one given). */
async function startReceiver(t: TestContext, port = 0): Promise<Receiver> {
  const seen = new MemoryReplayGuard();
  const receiver = {
    url: '',
    port: 0,
    events: [] as WebhookEvent[],
    refused: {} as Record<string, number>,
    raw: [] as Array<{ body: string; authorization: string }>,
    delayMs: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const authorization = req.headers.authorization ?? '';
      receiver.raw.push({ body, authorization });
      const answer = () => {
        try {
          receiver.events.push(verifyWebhook(body, authorization, [KEY], { seen }));
          res.writeHead(204).end();
        } catch (error) {
          if (!(error instanceof UsherError)) throw error;
          receiver.refused[error.code] = (receiver.refused[error.code] ?? 0) + 1;
          res.writeHead(error.code === 'WEBHOOK_REPLAYED' ? 200 : error.status).end();
        }
      };
      if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
  let closed: Promise<void> | undefined;
  receiver.close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  t.after(() => receiver.close());
  return receiver;
}

function startDispatcher(
  t: TestContext,
  url: string,
  options: { once?: WebhookOnceStore; maxQueued?: number } = {},
) {
  const registry = new Registry();
  const { logger, records } = captureLogger();
  const hooks = new WebhookDispatcher({
    urls: [url],
    key: KEY,
    once: options.once ?? new MemoryWebhookOnceStore(),
    counter: createWebhookCounter(registry),
    logger,
    initialBackoffMs: 100,
    maxBackoffMs: 800,
    retryForMs: 30_000,
    // Generous: on a loaded 2-core machine a timed-out attempt would be retried and seen twice.
    requestTimeoutMs: 10_000,
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
  });
  t.after(() => hooks.close());
  return { hooks, registry, records };
}

async function results(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('usher_broker_webhooks_total')!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.result), value.value]));
}

/** A raw POST, as an attacker who captured a delivery would send it. */
function post(url: string, body: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/webhook+json', authorization } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const moved = (room: string, seq: number): WebhookEventInput => ({
  event: 'room.moved',
  room,
  from: `s${seq}`,
  to: `s${seq + 1}`,
  cause: 'member',
});

function byRoom(events: readonly WebhookEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const event of events) {
    if (!('room' in event)) continue;
    const ids = out[event.room] ?? [];
    ids.push(event.id);
    out[event.room] = ids;
  }
  return out;
}

describe('webhook delivery to a real receiver', () => {
  test('signatures verify; a captured request replayed or altered is refused', async (t) => {
    const receiver = await startReceiver(t);
    const { hooks, registry } = startDispatcher(t, receiver.url);
    const sent = [
      hooks.enqueue({ event: 'room.started', room: 'lobby', server: 'm1' }),
      hooks.enqueue({
        event: 'participant.joined',
        room: 'lobby',
        server: 'm1',
        participant: { identity: 'user-7', name: 'Ada', peerId: 'p1' },
      }),
      hooks.enqueue({ event: 'server.lost', server: 'm1', cause: 'frozen', rooms: ['lobby'] }),
    ];
    // Settled on both sides: the receiver has them and the dispatcher has counted its answers.
    await waitUntil(() => receiver.events.length === 3 && hooks.pending === 0, 'three deliveries');
    assert.deepEqual(receiver.events.map((event) => event.id).sort(), sent.map((event) => event.id).sort());
    assert.deepEqual(receiver.refused, {});
    assert.deepEqual(await results(registry), { delivered: 3 });

    const captured = receiver.raw[0]!;
    assert.equal(await post(receiver.url, captured.body, captured.authorization), 200);
    assert.equal(receiver.refused.WEBHOOK_REPLAYED, 1);
    const altered = captured.body.replace('lobby', 'lobbx');
    assert.equal(await post(receiver.url, altered, captured.authorization), 401);
    assert.equal(receiver.refused.WEBHOOK_BODY_MISMATCH, 1);
    assert.equal(await post(receiver.url, captured.body, ''), 401);
    assert.equal(receiver.events.length, 3, 'nothing processed twice');
  });

  test('receiver down for 10 s, then up: every event delivered once, in order per room', async (t) => {
    const probe = await startReceiver(t);
    const port = probe.port;
    await probe.close(); // down: connections to the port are refused
    const { hooks, registry } = startDispatcher(t, `http://127.0.0.1:${port}/hooks`);
    const sent: WebhookEvent[] = [];
    const started = Date.now();
    for (let seq = 0; seq < 10; seq++)
      for (const room of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) sent.push(hooks.enqueue(moved(room, seq)));
    await waitUntil(async () => ((await results(registry)).retried ?? 0) >= 6, 'failed attempts while down');
    // The outage itself: the receiver stays down for 10 s of retries.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - started))));
    assert.equal(hooks.pending, 60, 'nothing delivered or dropped while down');
    const receiver = await startReceiver(t, port);
    await waitUntil(() => hooks.pending === 0, 'all 60 events after the receiver is back', 40_000);
    assert.equal(receiver.events.length, 60);
    assert.deepEqual(byRoom(receiver.events), byRoom(sent), 'each room in enqueue order');
    assert.equal(new Set(receiver.events.map((event) => event.id)).size, 60, 'each once');
    assert.deepEqual(receiver.refused, {});
    const counts = await results(registry);
    assert.equal(counts.delivered, 60);
    assert.equal(counts.dropped, undefined);
  });

  test('a slow receiver never blocks enqueue', async (t) => {
    const receiver = await startReceiver(t);
    receiver.delayMs = 3000;
    const { hooks } = startDispatcher(t, receiver.url, { maxQueued: 50_000 });
    hooks.enqueue(moved('first', 0));
    await waitUntil(() => receiver.raw.length === 1, 'the first slow request to be in flight');
    const started = performance.now();
    for (let seq = 0; seq < 10_000; seq++) hooks.enqueue(moved(`room-${seq % 100}`, seq));
    const elapsed = performance.now() - started;
    // All 10 000 were queued while the receiver still sat on its first request.
    assert.equal(receiver.events.length, 0);
    assert.ok(elapsed < 2000, `10 000 enqueues took ${elapsed.toFixed(0)} ms`);
    // The event loop stays free for other work while deliveries wait on the receiver.
    const tick = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(performance.now() - tick < 500, 'event loop not blocked');
    await waitUntil(() => receiver.events.length >= 1, 'the slow receiver to accept one', 10_000);
    assert.ok(hooks.pending > 9000, 'the rest wait in the queue');
  });

  test('two brokers with claims in one Redis: each event reaches the receiver once', async (t) => {
    const redis = await startRedis(t);
    const receiver = await startReceiver(t);
    const stores = [0, 1].map(() => new RedisWebhookOnceStore({ url: redis.url }));
    for (const store of stores) {
      t.after(() => store.close());
      assert.equal(await store.ready(5000), true);
    }
    const brokers = stores.map((once) => startDispatcher(t, receiver.url, { once }));
    const ids = new Set<string>();
    for (let seq = 0; seq < 20; seq++) {
      const fact = `room.moved:lobby:s${seq}:s${seq + 1}:${seq}`;
      for (const broker of brokers) ids.add(broker.hooks.enqueue(moved('lobby', seq), fact).id);
    }
    assert.equal(ids.size, 20, 'both brokers give a fact the same id');
    await waitUntil(
      () => brokers.every((broker) => broker.hooks.pending === 0),
      'both brokers to settle',
      10_000,
    );
    assert.equal(receiver.events.length, 20);
    assert.deepEqual(new Set(receiver.events.map((event) => event.id)), ids);
    assert.deepEqual(receiver.refused, {});
    const counts = await Promise.all(brokers.map((broker) => results(broker.registry)));
    assert.equal(
      counts.reduce((sum, count) => sum + (count.duplicate ?? 0), 0),
      20,
    );
  });
});
