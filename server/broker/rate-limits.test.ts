// The per-address budget shared by HTTP and WebSocket, the per-socket frame limit, and the
// switch that turns both off.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeMedia, postFrom, postJson, SessionClient, startBroker, waitFor } from './testing/harness.ts';

describe('rate limits', () => {
  const body = (id: string) => ({ type: 'session.request', v: 1, id, room: 'lobby' });

  test('one budget per address across HTTP and WebSocket: 429 + Retry-After over HTTP, RATE_LIMITED with the id over WS', async (t) => {
    const tb = await startBroker(t, { rateLimit: { perMinute: 60, burst: 4 } });
    await FakeMedia.connect(t, tb, 'm1');
    const url = tb.http('/v1/sessions');
    const ws = await SessionClient.open(t, tb);
    const first = await postJson(url, body('h1'));
    assert.equal(first.status, 200);
    assert.deepEqual(
      ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'].map((h) => first.headers.get(h)),
      ['4', '3', '1'],
      'an allowed request is told its budget: 3 left, full again within a second (60/min)',
    );
    assert.equal((await ws.request({ room: 'lobby' })).type, 'session.assigned');
    const third = await postJson(url, body('h2'));
    assert.equal(third.status, 200);
    assert.ok(
      Number(third.headers.get('x-ratelimit-remaining')) <= 1,
      'the WebSocket request drew on it too',
    );
    assert.equal((await ws.request({ room: 'lobby' })).type, 'session.assigned');

    const overWs = await ws.request({ room: 'lobby' });
    assert.equal(overWs.code, 'RATE_LIMITED');
    assert.equal(overWs.id, 'r3', 'the client can match the refusal to its request');
    assert.ok((overWs.retryAfterMs as number) > 0 && (overWs.retryAfterMs as number) <= 1000);

    const overHttp = await postJson(url, body('h3'));
    assert.equal(overHttp.status, 429);
    assert.deepEqual(Object.keys(overHttp.body).sort(), [
      'code',
      'id',
      'message',
      'retryAfterMs',
      'type',
      'v',
    ]);
    assert.equal(overHttp.body.code, 'RATE_LIMITED');
    assert.ok((overHttp.body.retryAfterMs as number) > 0);
    assert.equal(overHttp.headers.get('retry-after'), '1');
    assert.equal(overHttp.headers.get('x-ratelimit-limit'), '4');
    assert.equal(overHttp.headers.get('x-ratelimit-remaining'), '0');

    // Another address has its own budget.
    const other = await postFrom(url, body('o1'), '127.0.0.2');
    assert.equal(other.status, 200);
    const metrics = await (await fetch(tb.http('/metrics'))).text();
    assert.match(
      metrics,
      /^usher_broker_session_requests_total\{transport="http",result="RATE_LIMITED"\} 1$/m,
    );
    assert.match(metrics, /^usher_broker_session_requests_total\{transport="ws",result="RATE_LIMITED"\} 1$/m);
  });

  test('a browser on an allowed origin can read the 429 (CORS headers survive the refusal)', async (t) => {
    const tb = await startBroker(t, {
      rateLimit: { perMinute: 60, burst: 1 },
      allowedOrigins: ['https://app.example'],
    });
    const headers = { origin: 'https://app.example' };
    await postJson(tb.http('/v1/sessions'), body('h1'), headers);
    const refused = await postJson(tb.http('/v1/sessions'), body('h2'), headers);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(refused.headers.get('access-control-expose-headers') ?? '', /retry-after/);
  });

  test('garbage costs budget too, so it cannot be used to probe for free', async (t) => {
    const tb = await startBroker(t, { rateLimit: { perMinute: 60, burst: 2 } });
    const ws = await SessionClient.open(t, tb);
    ws.inbox.send('{nope');
    assert.equal((await ws.inbox.next()).code, 'BAD_JSON');
    assert.equal((await postJson(tb.http('/v1/sessions'), '{nope')).body.code, 'BAD_JSON');
    ws.inbox.send('{nope');
    assert.equal((await ws.inbox.next()).code, 'RATE_LIMITED');
    assert.equal((await postJson(tb.http('/v1/sessions'), '{nope')).status, 429);
  });

  test('a socket past its frame limit gets RATE_LIMITED with a hint, and is closed 4429 if it keeps going', async (t) => {
    const tb = await startBroker(t, {
      rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
      sessionSocketLimit: { burst: 5, perSecond: 1, abuseDebt: 20 },
    });
    await FakeMedia.connect(t, tb, 'm1');
    const bystander = await SessionClient.open(t, tb);
    const flooder = await SessionClient.open(t, tb);
    for (let i = 0; i < 40; i++) flooder.send({ room: `room-${i}` });
    assert.equal((await flooder.inbox.closed).code, 4429);
    const byId = new Map(flooder.inbox.messages.map((message) => [message.id, message]));
    for (let i = 1; i <= 5; i++)
      assert.notEqual(byId.get(`r${i}`)?.code, 'RATE_LIMITED', `r${i} is within the burst`);
    const limited = byId.get('r6')!;
    assert.equal(limited.code, 'RATE_LIMITED', 'the refusal carries the id the client waits on');
    assert.ok((limited.retryAfterMs as number) >= 1000);
    assert.equal(flooder.inbox.messages.at(-1)?.code, 'RATE_LIMITED');
    assert.match(flooder.inbox.messages.at(-1)?.message as string, /closing/);
    assert.equal((await bystander.request({ room: 'lobby' })).type, 'session.assigned');
  });

  test('rateLimit: false turns both limits off (benchmarks, or a limiting proxy in front)', async (t) => {
    const tb = await startBroker(t, { rateLimit: false });
    await FakeMedia.connect(t, tb, 'm1');
    const client = await SessionClient.open(t, tb);
    for (let i = 0; i < 120; i++) client.send({ room: 'lobby' });
    await waitFor('every reply', () => client.inbox.messages.length === 120);
    assert.equal(client.inbox.messages.filter((reply) => reply.code === 'RATE_LIMITED').length, 0);
    const response = await postJson(tb.http('/v1/sessions'), body('h1'));
    assert.equal(response.headers.get('x-ratelimit-limit'), null);
  });
});
