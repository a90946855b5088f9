// The ws receiver's late end() is skipped, and only that: closes still complete with their
// codes, and a receiver that has not finished still ends. If a ws upgrade stops making the
// late call, the first test fails — then the workaround can go.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as ws from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
import { waitUntil } from '../../shared/testing/wait.ts';
import {
  skipLateReceiverEnd,
  skipLateSocketEnd,
  skippedLateEnds,
  skippedLateSocketEnds,
} from './ws-late-end.ts';

test('a client-initiated close still completes on both sides, and ws’s late receiver end() is skipped', async (t) => {
  assert.equal(skipLateReceiverEnd(), true);
  assert.equal(skipLateReceiverEnd(), true, 'idempotent');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  await once(server, 'listening');
  const closedOnServer = new Promise<number>((resolve) =>
    server.on('connection', (socket) => socket.on('close', (code) => resolve(code))),
  );
  const before = skippedLateEnds();
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await once(client, 'open');
  client.close(4000, 'done');
  const [clientCode] = (await once(client, 'close')) as [number];
  assert.equal(await closedOnServer, 4000);
  assert.equal(clientCode, 4000);
  assert.ok(
    skippedLateEnds() > before,
    'ws still ends a finished receiver again (else remove ws-late-end.ts)',
  );
});

test('a receiver that has not finished still ends; end() with arguments is left to the stream', async () => {
  skipLateReceiverEnd();
  type Receiver = NodeJS.WritableStream & { writableFinished: boolean };
  const { Receiver } = ws as unknown as { Receiver: new () => Receiver };
  const receiver = new Receiver();
  const finished = once(receiver, 'finish');
  assert.equal(receiver.end(), receiver);
  await finished;
  assert.equal(receiver.writableFinished, true);
  const before = skippedLateEnds();
  assert.equal(receiver.end(), receiver, 'a late end() returns the stream as before');
  assert.equal(skippedLateEnds(), before + 1);
  // With a callback the stream answers as it always did: ERR_STREAM_ALREADY_FINISHED.
  const error = await new Promise<unknown>((resolve) => receiver.end((cause?: unknown) => resolve(cause)));
  assert.equal((error as { code?: string }).code, 'ERR_STREAM_ALREADY_FINISHED');
  assert.equal(skippedLateEnds(), before + 1, 'only the bare call is skipped');
});

test('an upgraded socket’s late end() is skipped too, and the close still completes with its code', async (t) => {
  const server = new WebSocketServer({ noServer: true });
  const http = createServer();
  t.after(() => http.close());
  http.on('upgrade', (request, socket, head) => {
    skipLateSocketEnd(socket);
    server.handleUpgrade(request, socket, head, (upgraded) => server.emit('connection', upgraded, request));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const closedOnServer = new Promise<number>((resolve) =>
    server.on('connection', (socket) => socket.on('close', (code) => resolve(code))),
  );
  const before = skippedLateSocketEnds();
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  await once(client, 'open');
  client.close(4001, 'done');
  const [clientCode] = (await once(client, 'close')) as [number];
  assert.equal(await closedOnServer, 4001);
  assert.equal(clientCode, 4001);
  // Only the server's socket was patched; the client's late end() runs as before.
  await waitUntil(() => skippedLateSocketEnds() === before + 1, 'the late socket end skipped', 2000);
});
