// Webhook delivery to a local receiver: enqueue a bounded number of events over a number of
// rooms through the real WebhookDispatcher (signing, fetch, per-room order) to a node:http
// receiver on 127.0.0.1 that verifies each signature, and report events/s and the lag
// (received − createdAt) percentiles. `npx tsx bench/webhooks/delivery.ts [events] [rooms] [per second]`:
// without a rate every event is enqueued at once (the lag is then mostly the backlog).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { MemoryWebhookOnceStore } from '../../server/broker/webhook-once.ts';
import { createWebhookCounter, WebhookDispatcher } from '../../server/broker/webhooks.ts';
import { ApiKeys } from '../../server/common/join-token.ts';
import { verifyWebhook } from '../../server/sdk/index.ts';

const EVENTS = Math.min(50_000, Number(process.argv[2] ?? 5000));
const ROOMS = Math.min(1000, Number(process.argv[3] ?? 50));
const RATE = Math.min(10_000, Number(process.argv[4] ?? 0));
const DEADLINE_MS = 60_000;
const keys = ApiKeys.parse('bench:webhook-bench-secret-0123456789abcdef');

const lags: number[] = [];
let firstAt = 0;
let lastAt = 0;
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const event = verifyWebhook(Buffer.concat(chunks).toString('utf8'), request.headers.authorization, keys);
    lastAt = Date.now();
    lags.push(lastAt - event.createdAt);
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
const counter = createWebhookCounter(new Registry());
const dispatcher = new WebhookDispatcher({
  urls: [url],
  key: keys.current,
  once: new MemoryWebhookOnceStore(),
  counter,
  logger: pino({ level: 'warn' }),
});
firstAt = Date.now();
for (let index = 0; index < EVENTS; index++) {
  // At a rate: wait until this event's slot (10 ms ticks).
  if (RATE > 0 && index % Math.max(1, Math.round(RATE / 100)) === 0) {
    const due = firstAt + (index / RATE) * 1000;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
  }
  dispatcher.enqueue(
    {
      event: 'participant.joined',
      room: `room-${index % ROOMS}`,
      server: 'm1',
      participant: { identity: `user-${index}`, name: `User ${index}`, peerId: `peer${index}` },
    },
    `bench\n${index}`,
  );
}
const enqueuedMs = Date.now() - firstAt;
const deadline = Date.now() + DEADLINE_MS;
while (lags.length < EVENTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
await dispatcher.close();
receiver.closeAllConnections();
receiver.close();
lags.sort((a, b) => a - b);
const pct = (p: number): number =>
  lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? Number.NaN;
const seconds = (lastAt - firstAt) / 1000;
console.log(
  JSON.stringify({
    events: EVENTS,
    rooms: ROOMS,
    delivered: lags.length,
    enqueueMs: enqueuedMs,
    eventsPerSecond: Math.round(lags.length / seconds),
    lagMs: { p50: pct(50), p99: pct(99), max: lags.at(-1) },
  }),
);
