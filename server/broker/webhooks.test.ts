// Webhook signing against the SDK's verifyWebhook and jose, and the dispatcher's queue logic
// with a scripted fetch: order per room, independence of rooms, retries and their bound, the
// queue bound, and once-claims. Real receivers are in test/integration/webhook-delivery.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jwtVerify } from 'jose';
import { Registry } from 'prom-client';
import { UsherError } from '../../shared/errors.ts';
import {
  WEBHOOK_CONTENT_TYPE,
  WEBHOOK_TOKEN_TYPE,
  type WebhookEvent,
} from '../../shared/protocol/webhooks.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import { UsherConfigError } from '../common/config-error.ts';
import { signJoinToken } from '../common/join-token.ts';
import { MemoryReplayGuard, verifyWebhook } from '../sdk/index.ts';
import { captureLogger } from './testing/harness.ts';
import { MemoryWebhookOnceStore, type WebhookOnceStore } from './webhook-once.ts';
import {
  createWebhookCounter,
  signWebhook,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from './webhooks.ts';

const KEY = { id: 'hook1', secret: 'webhook-test-secret-0123456789abcdef' };
const OTHER = { id: 'hook1', secret: 'another-secret-0123456789abcdefghijk' };
const now = Date.UTC(2026, 11, 3, 9, 0, 0);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsherError, `expected an UsherError, got ${String(error)}`);
    return error.code;
  }
  return 'accepted';
}

const body = JSON.stringify({
  id: 'evt-1',
  createdAt: now,
  event: 'room.started',
  room: 'lobby',
  server: 'm1',
});

describe('webhook signatures', () => {
  test('signWebhook ⇒ verifyWebhook gives the event; jose reads the same JWS', async () => {
    const authorization = signWebhook(KEY, body, now);
    const event = verifyWebhook(body, authorization, [KEY], { now });
    assert.deepEqual(event, JSON.parse(body));
    assert.equal(verifyWebhook(body, `Bearer ${authorization}`, [KEY], { now }).id, 'evt-1');
    const { payload, protectedHeader } = await jwtVerify(
      authorization,
      new TextEncoder().encode(KEY.secret),
      {
        algorithms: ['HS256'],
        typ: WEBHOOK_TOKEN_TYPE,
        currentDate: new Date(now),
      },
    );
    assert.equal(protectedHeader.kid, 'hook1');
    assert.equal(
      payload.sha256,
      (await import('node:crypto')).createHash('sha256').update(body).digest('base64'),
    );
    assert.equal(payload.exp! - payload.iat!, 300);
  });

  test('each way to fail has its code', () => {
    const authorization = signWebhook(KEY, body, now);
    const cases: Array<[string, () => unknown]> = [
      ['WEBHOOK_INVALID', () => verifyWebhook(body, undefined, [KEY], { now })],
      ['WEBHOOK_INVALID', () => verifyWebhook(body, '', [KEY], { now })],
      ['WEBHOOK_INVALID', () => verifyWebhook(body, signWebhook(OTHER, body, now), [KEY], { now })],
      [
        'WEBHOOK_INVALID',
        () => verifyWebhook(body, signWebhook({ ...KEY, id: 'gone' }, body, now), [KEY], { now }),
      ],
      [
        'WEBHOOK_INVALID',
        () =>
          verifyWebhook(
            body,
            signJoinToken(KEY, { room: 'lobby', identity: 'u', ttlSeconds: 60 }, now),
            [KEY],
            { now },
          ),
      ],
      [
        'WEBHOOK_BODY_MISMATCH',
        () => verifyWebhook(body.replace('lobby', 'other'), authorization, [KEY], { now }),
      ],
      ['WEBHOOK_STALE', () => verifyWebhook(body, authorization, [KEY], { now: now + 301_000 })],
      ['WEBHOOK_STALE', () => verifyWebhook(body, authorization, [KEY], { now: now - 301_000 })],
      ['BAD_JSON', () => verifyWebhook('{', signWebhook(KEY, '{', now), [KEY], { now })],
      [
        'BAD_MESSAGE',
        () => verifyWebhook('{"event":"x"}', signWebhook(KEY, '{"event":"x"}', now), [KEY], { now }),
      ],
    ];
    for (const [expected, fn] of cases) assert.equal(code(fn), expected);
    assert.equal(verifyWebhook(body, authorization, [KEY], { now: now + 299_000 }).id, 'evt-1');
  });

  test('a replay guard refuses the second sight of an id within the window, not after', () => {
    const seen = new MemoryReplayGuard();
    const authorization = signWebhook(KEY, body, now);
    assert.equal(verifyWebhook(body, authorization, [KEY], { now, seen }).id, 'evt-1');
    assert.equal(
      code(() => verifyWebhook(body, authorization, [KEY], { now: now + 1000, seen })),
      'WEBHOOK_REPLAYED',
    );
    // A retry signed later is the same event: refused as a replay too (the receiver answers 2xx).
    assert.equal(
      code(() =>
        verifyWebhook(body, signWebhook(KEY, body, now + 60_000), [KEY], { now: now + 60_000, seen }),
      ),
      'WEBHOOK_REPLAYED',
    );
    // Once the id is forgotten, the captured request is stale anyway.
    assert.equal(
      code(() => verifyWebhook(body, authorization, [KEY], { now: now + 601_000, seen })),
      'WEBHOOK_STALE',
    );
    // Ids past their window are forgotten.
    const later = body.replace('evt-1', 'evt-2');
    assert.equal(
      verifyWebhook(later, signWebhook(KEY, later, now + 601_000), [KEY], { now: now + 601_000, seen }).id,
      'evt-2',
    );
    assert.equal(seen.size, 1);
  });
});

interface Call {
  url: string;
  event: { id: string; event: string; room?: string; seq?: number };
  contentType: string | null;
  authorization: string | null;
}

/** A scripted fetch: `answer` decides each call's status (or throws for a network error). */
function scriptedFetch(answer: (call: Call, attempt: number) => number | Promise<number>) {
  const calls: Call[] = [];
  const attempts = new Map<string, number>();
  const fetch = (async (url: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    const call: Call = {
      url,
      event: JSON.parse(String(init.body)),
      contentType: headers.get('content-type'),
      authorization: headers.get('authorization'),
    };
    const key = `${url} ${call.event.id}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    calls.push(call);
    // Like the real fetch: an aborted request rejects, whatever the receiver does later.
    const aborted = new Promise<never>((_resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
    const status = await Promise.race([answer(call, attempt), aborted]);
    return new Response(null, { status });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

async function results(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('usher_broker_webhooks_total')!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.result), value.value]));
}

function dispatcher(
  t: { after(fn: () => Promise<void>): void },
  options: Partial<WebhookDispatcherOptions> & Pick<WebhookDispatcherOptions, 'fetch'>,
) {
  const registry = new Registry();
  const { logger, records } = captureLogger();
  const hooks = new WebhookDispatcher({
    urls: ['http://receiver.test/hooks'],
    key: KEY,
    once: new MemoryWebhookOnceStore(),
    counter: createWebhookCounter(registry),
    logger,
    initialBackoffMs: 10,
    maxBackoffMs: 40,
    retryForMs: 5000,
    ...options,
  });
  t.after(() => hooks.close());
  return { hooks, registry, records };
}

const roomEvent = (room: string, seq: number) =>
  ({ event: 'room.moved', room, from: `s${seq}`, to: `s${seq + 1}`, cause: 'member' }) as const;

describe('WebhookDispatcher', () => {
  test('delivers signed, typed POSTs; enqueue fills in id and createdAt', async (t) => {
    const { fetch, calls } = scriptedFetch(() => 204);
    const { hooks, registry } = dispatcher(t, { fetch, now: () => now });
    const event = hooks.enqueue({ event: 'room.started', room: 'lobby', server: 'm1' });
    assert.match(event.id, /^[A-Za-z0-9_-]+$/);
    assert.equal(event.createdAt, now);
    assert.equal(calls.length, 0, 'nothing is sent inside enqueue');
    await waitUntil(() => hooks.pending === 0, 'delivery');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.contentType, WEBHOOK_CONTENT_TYPE);
    const verified = verifyWebhook(
      JSON.stringify(calls[0]!.event),
      calls[0]!.authorization ?? undefined,
      [KEY],
      {
        now,
      },
    );
    assert.deepEqual(verified, event);
    assert.deepEqual(await results(registry), { delivered: 1 });
  });

  test('one room in order through failures; another room is not held up by it', async (t) => {
    // Room "a" fails its first two attempts of every event; room "b" always succeeds.
    const { fetch, calls } = scriptedFetch((call, attempt) =>
      call.event.room === 'a' && attempt <= 2 ? 503 : 200,
    );
    const { hooks, registry } = dispatcher(t, { fetch });
    const sent: WebhookEvent[] = [];
    for (let seq = 0; seq < 5; seq++)
      sent.push(hooks.enqueue(roomEvent('a', seq)), hooks.enqueue(roomEvent('b', seq)));
    await waitUntil(() => hooks.pending === 0, 'every event', 10_000);
    const delivered = (room: string) => {
      const seen = calls.filter((call) => call.event.room === room).map((call) => call.event.id);
      return seen.filter((id, index) => seen.indexOf(id) === index);
    };
    const ids = (room: string) =>
      sent.filter((event) => 'room' in event && event.room === room).map((e) => e.id);
    assert.deepEqual(delivered('a'), ids('a'), 'room a in enqueue order');
    assert.deepEqual(delivered('b'), ids('b'), 'room b in enqueue order');
    // Each of a's events is attempted only after the previous one succeeded.
    const aCalls = calls.filter((call) => call.event.room === 'a').map((call) => call.event.id);
    assert.deepEqual(
      aCalls,
      ids('a').flatMap((id) => [id, id, id]),
    );
    // b finished while a was still retrying its first events.
    const lastB = calls.findLastIndex((call) => call.event.room === 'b');
    const lastA = calls.findLastIndex((call) => call.event.room === 'a');
    assert.ok(lastB < lastA, 'room b was not held up by room a');
    assert.deepEqual(await results(registry), { delivered: 10, retried: 10 });
  });

  test('a receiver that never accepts: retried with growing, jittered delays, then dropped after the window', async (t) => {
    const times: number[] = [];
    const { fetch } = scriptedFetch(() => {
      times.push(performance.now());
      return 500;
    });
    const { hooks, registry, records } = dispatcher(t, {
      fetch,
      initialBackoffMs: 20,
      maxBackoffMs: 160,
      retryForMs: 600,
    });
    hooks.enqueue(roomEvent('a', 0));
    hooks.enqueue(roomEvent('a', 1));
    await waitUntil(() => hooks.pending === 0, 'both to be dropped', 10_000);
    const counts = await results(registry);
    assert.equal(counts.dropped, 2);
    assert.ok((counts.retried ?? 0) >= 3, `retried ${counts.retried}`);
    const gaps = times.slice(1, 5).map((time, index) => time - times[index]!);
    // Equal jitter: attempt n waits between half and all of 20·2^(n-1) ms (timers may run late).
    for (const [index, gap] of gaps.entries()) assert.ok(gap >= 10 * 2 ** index - 2, `gap ${index}: ${gap}`);
    assert.ok(records.some((record) => /webhook dropped/.test(String(record.msg))));
  });

  test('network errors and timeouts are retried like a 5xx', async (t) => {
    const { fetch, calls } = scriptedFetch(async (_call, attempt) => {
      if (attempt === 1) throw new TypeError('fetch failed');
      if (attempt === 2) await new Promise((resolve) => setTimeout(resolve, 500));
      return 200;
    });
    const { hooks, registry } = dispatcher(t, { fetch, requestTimeoutMs: 100 });
    hooks.enqueue(roomEvent('a', 0));
    await waitUntil(() => hooks.pending === 0, 'delivery', 5000);
    assert.equal(calls.length, 3);
    assert.deepEqual(await results(registry), { delivered: 1, retried: 2 });
  });

  test('a full queue drops its oldest waiting events and counts them', async (t) => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { fetch, calls } = scriptedFetch(async () => {
      await gate;
      return 200;
    });
    const { hooks, registry } = dispatcher(t, { fetch, maxQueued: 5, maxInFlight: 1 });
    const first = hooks.enqueue(roomEvent('a', 0));
    await waitUntil(() => calls.length === 1, 'the first attempt to be in flight');
    const rest = Array.from({ length: 8 }, (_, seq) =>
      hooks.enqueue(roomEvent(seq % 2 === 0 ? 'a' : 'b', seq + 1)),
    );
    release();
    await waitUntil(() => hooks.pending === 0, 'the queue to empty');
    const ids = calls.map((call) => call.event.id);
    assert.deepEqual(
      ids,
      [first.id, ...rest.slice(3).map((event) => event.id)].filter((id) => ids.includes(id)),
    );
    assert.deepEqual(new Set(ids), new Set([first.id, ...rest.slice(3).map((event) => event.id)]));
    assert.deepEqual(await results(registry), { delivered: 6, overflow: 3 });
  });

  test('enqueue stays fast with a receiver that never answers', async (t) => {
    const { fetch } = scriptedFetch(() => new Promise<number>(() => {}));
    const { hooks } = dispatcher(t, { fetch, maxQueued: 100_000 });
    const started = performance.now();
    for (let seq = 0; seq < 20_000; seq++) hooks.enqueue(roomEvent(`r${seq % 500}`, seq));
    const elapsed = performance.now() - started;
    assert.equal(hooks.pending, 20_000);
    // A bound a loaded 2-core machine still meets; the point is that none of them waited.
    assert.ok(elapsed < 5000, `20 000 enqueues took ${elapsed.toFixed(0)} ms`);
  });

  test('two dispatchers sharing a once-store: each fact is sent once; a failing store sends anyway', async (t) => {
    const { fetch, calls } = scriptedFetch(() => 200);
    const shared = new MemoryWebhookOnceStore();
    const one = dispatcher(t, { fetch, once: shared });
    const two = dispatcher(t, { fetch, once: shared });
    for (let seq = 0; seq < 10; seq++) {
      const fact = `room.moved:lobby:s${seq}:s${seq + 1}:${seq}`;
      const a = one.hooks.enqueue(roomEvent('lobby', seq), fact);
      const b = two.hooks.enqueue(roomEvent('lobby', seq), fact);
      assert.equal(a.id, b.id, 'the same fact has the same id on every broker');
    }
    await waitUntil(() => one.hooks.pending + two.hooks.pending === 0, 'both queues');
    assert.equal(calls.length, 10);
    assert.equal(new Set(calls.map((call) => call.event.id)).size, 10);
    const total = { ...(await results(one.registry)) };
    const other = await results(two.registry);
    assert.equal((total.delivered ?? 0) + (other.delivered ?? 0), 10);
    assert.equal((total.duplicate ?? 0) + (other.duplicate ?? 0), 10);

    const broken: WebhookOnceStore = {
      claim: () => Promise.reject(new UsherError('INTERNAL')),
      close: async () => {},
    };
    const lone = dispatcher(t, { fetch, once: broken });
    lone.hooks.enqueue(roomEvent('solo', 0), 'fact');
    await waitUntil(() => lone.hooks.pending === 0, 'delivery without the store');
    assert.deepEqual(await results(lone.registry), { delivered: 1 });
    assert.ok(lone.records.some((record) => /once-claim failed/.test(String(record.msg))));
  });

  test('every target gets every event; close abandons what is pending', async (t) => {
    const { fetch, calls } = scriptedFetch((call) => (call.url.endsWith('/down') ? 503 : 200));
    const { hooks } = dispatcher(t, { fetch, urls: ['http://one.test/up', 'http://two.test/down'] });
    hooks.enqueue(roomEvent('a', 0));
    await waitUntil(
      () => calls.filter((call) => call.url.endsWith('/down')).length >= 2,
      'retries to the dead target',
    );
    assert.equal(calls.filter((call) => call.url.endsWith('/up')).length, 1);
    await hooks.close();
    const count = calls.length;
    hooks.enqueue(roomEvent('a', 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, count, 'nothing sent after close');
    assert.throws(
      () =>
        new WebhookDispatcher({
          urls: ['ftp://x'],
          key: KEY,
          once: new MemoryWebhookOnceStore(),
          counter: createWebhookCounter(new Registry()),
          logger: captureLogger().logger,
        }),
      UsherConfigError,
    );
  });
});
