// deploy/prestop-drain.mjs, the media servers' Kubernetes preStop hook, against real
// processes: it drains its server through one broker, every broker stops assigning that
// server, its clients are told to migrate, and the hook returns once they have left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { waitUntil } from '../../shared/testing/wait.ts';
import { ADMIN_TOKEN, adminGet, startBroker, startMedia, waitRegistered } from './testing/fleet-processes.ts';

const HOOK = fileURLToPath(new URL('../../deploy/prestop-drain.mjs', import.meta.url));

type Servers = { servers: Array<{ id: string; draining: boolean }> };

test('the preStop hook drains its media server through a broker and waits for its clients to migrate', async (t) => {
  const brokers = [await startBroker(t), await startBroker(t)];
  const [first, second] = brokers;
  assert.ok(first !== undefined && second !== undefined);
  const leaving = await startMedia(t, 'leaving', brokers);
  await waitRegistered(brokers, 1);
  // A client in a room on the server that is about to stop.
  const response = await fetch(`${second.url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'session.request', v: 1, id: 'r1', room: 'moving' }),
  });
  const assigned = (await response.json()) as { server: { id: string; url: string }; ticket: string };
  assert.equal(assigned.server.id, 'leaving');
  await startMedia(t, 'staying', brokers);
  await waitRegistered(brokers, 2);
  const socket = new WebSocket(assigned.server.url);
  t.after(() => socket.terminate());
  const messages: Array<{ type: string }> = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string };
    messages.push(message);
    // What the SDK does on `migrate`: leave, and ask a broker again.
    if (message.type === 'migrate') socket.close();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'join', v: 1, ticket: assigned.ticket, room: 'moving' }));
  await waitUntil(() => messages.some((m) => m.type === 'joined'), 'the client to join');

  const hook = spawn(process.execPath, [HOOK], {
    env: {
      PATH: process.env.PATH ?? '',
      USHER_MEDIA_ID: leaving.id,
      USHER_MEDIA_PORT: String(leaving.port),
      USHER_ADMIN_TOKEN: ADMIN_TOKEN,
      USHER_DRAIN_BROKER_URL: first.url,
      USHER_PRESTOP_WAIT_S: '15',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (hook.exitCode === null) hook.kill('SIGKILL');
  });
  let output = '';
  hook.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const started = Date.now();
  const exitCode = await new Promise<number | null>((resolve) => hook.once('exit', (code) => resolve(code)));
  assert.equal(exitCode, 0, output);
  assert.match(output, /broker answered 200/);
  assert.ok(
    messages.some((m) => m.type === 'migrate'),
    'the client was told to migrate',
  );
  // It returned because the client left, not because its wait ran out.
  assert.ok(Date.now() - started < 10_000);
  // Every broker knows the server is draining (it reports so itself), and assigns elsewhere.
  for (const broker of brokers) {
    await waitUntil(
      async () =>
        (await adminGet<Servers>(broker, '/admin/v1/servers')).servers.some(
          (s) => s.id === 'leaving' && s.draining,
        ),
      `${broker.process.name} to see the drain`,
    );
  }
  const again = await fetch(`${second.url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'session.request', v: 1, id: 'r2', room: 'moving', exclude: ['leaving'] }),
  });
  assert.equal(((await again.json()) as { server: { id: string } }).server.id, 'staying');
});
