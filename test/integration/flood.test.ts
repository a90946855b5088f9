// A flood at the broker's default limits: one client address sends session requests as fast
// as it can (HTTP and WebSocket, bounded in time and count) and is throttled with
// RATE_LIMITED + retryAfterMs, while a well-behaved client on another address (127.0.0.2)
// keeps getting its assignment — and can join the media server with the ticket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import {
  captureLogger,
  type Json,
  keys,
  postFrom,
  SessionClient,
  startBroker,
  waitFor,
} from '../../server/broker/testing/harness.ts';
import { createMediaServer } from '../../server/media/index.ts';

const FLOOD_MS = 3000;
const FLOOD_MAX = 6000;
/** The defaults this test measures against (createBroker's, see docs/SECURITY.md). */
const BURST = 600;
const PER_SECOND = 10;

test('a flooding address is throttled; a well-behaved one on another address is served throughout', {
  timeout: 60_000,
}, async (t) => {
  // The broker's defaults: nothing about rate limits is configured here.
  const tb = await startBroker(t);
  const { logger } = captureLogger();
  const media = await createMediaServer({ id: 'm1', port: 0, keys, logger, brokerUrl: tb.broker.url });
  t.after(() => media.close());
  await waitFor('the media server to register', async () => {
    const health = (await (await fetch(tb.http('/healthz'))).json()) as { servers: number };
    return health.servers === 1;
  });
  const body = (id: string, room = 'flood') => ({ type: 'session.request', v: 1, id, room });

  // ---- the flood: 16 HTTP loops and 4 WebSockets, all from 127.0.0.1
  const started = performance.now();
  const stopAt = started + FLOOD_MS;
  let requests = 0;
  const tally = { assigned: 0, limitedHttp: 0, limitedWs: 0, closedWs: 0, other: [] as string[] };
  const retryHints: number[] = [];
  const more = () => performance.now() < stopAt && requests < FLOOD_MAX;
  const httpLoop = async () => {
    while (more()) {
      requests++;
      const response = await fetch(tb.http('/v1/sessions'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body(`h${requests}`)),
      });
      const reply = (await response.json()) as Json;
      if (response.status === 200) tally.assigned++;
      else if (response.status === 429 && reply.code === 'RATE_LIMITED') {
        tally.limitedHttp++;
        retryHints.push(reply.retryAfterMs as number);
        assert.ok(Number(response.headers.get('retry-after')) >= 1, 'Retry-After header');
      } else tally.other.push(`${response.status} ${reply.code}`);
    }
  };
  const wsLoop = async () => {
    while (more()) {
      const client = await SessionClient.open(t, tb);
      // As fast as the socket allows: keep 4 requests in flight, send the next on every answer.
      await new Promise<void>((resolve) => {
        const fire = () => {
          if (!more() || client.inbox.socket.readyState !== WebSocket.OPEN) return;
          requests++;
          client.send({ room: 'flood' });
        };
        client.inbox.socket.on('message', (data) => {
          const reply = JSON.parse(String(data)) as Json;
          if (reply.type === 'session.assigned') tally.assigned++;
          else if (reply.code === 'RATE_LIMITED') {
            tally.limitedWs++;
            if (reply.retryAfterMs !== undefined) retryHints.push(reply.retryAfterMs as number);
          } else if (reply.code !== 'TOO_MANY_IN_FLIGHT') tally.other.push(String(reply.code));
          if (more()) fire();
          else client.inbox.socket.close();
        });
        client.inbox.socket.once('close', (code) => {
          if (code === 4429) tally.closedWs++;
          resolve();
        });
        for (let i = 0; i < 4; i++) fire();
      });
    }
  };
  const flood = Promise.all([...Array.from({ length: 16 }, httpLoop), ...Array.from({ length: 4 }, wsLoop)]);

  // ---- meanwhile, the well-behaved client on another address
  const served: number[] = [];
  const problems: string[] = [];
  while (performance.now() < stopAt) {
    const begin = performance.now();
    const overHttp = await postFrom(
      tb.http('/v1/sessions'),
      body(`good-${served.length}`, 'good-room'),
      '127.0.0.2',
    );
    if (overHttp.status !== 200) problems.push(`http ${overHttp.status} ${overHttp.body.code}`);
    const ws = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
    const overWs = await ws.request({ room: 'good-room' });
    if (overWs.type !== 'session.assigned') problems.push(`ws ${overWs.code}`);
    ws.inbox.socket.close();
    served.push(performance.now() - begin);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await flood;
  const elapsedS = (performance.now() - started) / 1000;

  assert.deepEqual(problems, [], 'the well-behaved client was never refused');
  // Served throughout the flood: several rounds, each answered (how many fit in the window is
  // the machine's business, not this test's: a busy CI core fits fewer).
  assert.ok(served.length >= 3, `${served.length} rounds for the well-behaved client`);
  assert.ok(Math.max(...served) < 1500, `a well-behaved round took ${Math.max(...served)} ms`);
  assert.deepEqual(tally.other, [], 'the flooder got only assignments and rate limits');
  assert.ok(tally.limitedHttp > 0 && tally.limitedWs > 0, JSON.stringify(tally));
  assert.ok(
    retryHints.length > 0 && retryHints.every((ms) => ms > 0 && ms <= 60_000),
    'retryAfterMs on refusals',
  );
  // The address got its burst and the sustained rate, not more (a little slack for timing).
  const allowance = BURST + PER_SECOND * (elapsedS + 1);
  assert.ok(
    tally.assigned <= allowance,
    `the flooder got ${tally.assigned} sessions in ${elapsedS.toFixed(1)} s`,
  );
  t.diagnostic(
    `flood: ${requests} requests in ${elapsedS.toFixed(1)} s → ${tally.assigned} assigned, ` +
      `${tally.limitedHttp} HTTP 429, ${tally.limitedWs} WS RATE_LIMITED, ${tally.closedWs} sockets closed 4429; ` +
      `well-behaved: ${served.length} rounds, slowest ${Math.max(...served).toFixed(0)} ms`,
  );

  // And the well-behaved client's ticket gets it into the room.
  const ws = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
  const assigned = await ws.request({ room: 'good-room', name: 'Ada' });
  const socket = new WebSocket((assigned.server as { url: string }).url);
  t.after(() => socket.terminate());
  const joined = await new Promise<Json>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'join', v: 1, ticket: assigned.ticket })));
    socket.once('message', (data) => resolve(JSON.parse(String(data)) as Json));
    socket.once('error', reject);
  });
  assert.equal(joined.type, 'joined');
  assert.equal(joined.room, 'good-room');
});
