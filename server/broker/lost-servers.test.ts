// Losing media servers: a silent server is dropped after the heartbeat timeout, a closed
// socket at once, and real SIGSTOPped and SIGKILLed processes are caught.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  FakeMedia,
  getJson,
  healthyServers,
  SECRET,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from './testing/harness.ts';

describe('losing media servers', () => {
  test('a silent server (open socket, no heartbeat) is dropped after the timeout and its rooms move', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 400 } });
    const frozen = await FakeMedia.connect(t, tb, 'frozen');
    const silentSince = Date.now();
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'frozen');
    await FakeMedia.connect(t, tb, 'alive', { heartbeatMs: 50 });
    await waitFor('the frozen server to be dropped', async () => (await healthyServers(tb)) === 1);
    const detectedAfter = Date.now() - silentSince;
    assert.ok(detectedAfter >= 350 && detectedAfter < 1500, `dropped after ${detectedAfter} ms`);
    assert.equal((await frozen.inbox.closed).code, 4408);
    const [lost] = tb.logged('media server lost');
    assert.deepEqual([lost?.id, lost?.reason], ['frozen', 'heartbeat-timeout']);
    assert.equal(tb.logged('media server lost').length, 1);

    const moved = await client.request({ room: 'lobby', exclude: ['frozen'] });
    assert.equal((moved.server as { id: string }).id, 'alive');
    const [line] = tb.logged('room moved');
    assert.deepEqual([line?.room, line?.from, line?.to, line?.cause], ['lobby', 'frozen', 'alive', 'frozen']);
    assert.equal((await getJson(tb.http('/healthz'))).body.servers, 1, 'the live one was never dropped');
  });

  test('a closed control socket removes the server at once', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 1000, timeoutMs: 60_000 } });
    const doomed = await FakeMedia.connect(t, tb, 'doomed');
    await FakeMedia.connect(t, tb, 'other');
    const client = await SessionClient.open(t, tb);
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'doomed');
    const closedAt = Date.now();
    doomed.inbox.socket.terminate();
    await waitFor('the closed server to be dropped', async () => (await healthyServers(tb)) === 1, 1000);
    assert.ok(Date.now() - closedAt < 1000);
    assert.equal(tb.logged('media server lost')[0]?.reason, 'control-closed');
    assert.equal(((await client.request({ room: 'lobby' })).server as { id: string }).id, 'other');
    // The id is free again: a restarted server registers under it.
    await FakeMedia.connect(t, tb, 'doomed');
    assert.equal(await healthyServers(tb), 2);
  });

  test('real processes: SIGSTOP is caught by the heartbeat, SIGKILL by the socket close', async (t) => {
    const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 500 } });
    const [frozen, crashed] = await Promise.all([spawnMedia(t, tb, 'frozen'), spawnMedia(t, tb, 'crashed')]);
    await waitFor('both registered', async () => (await healthyServers(tb)) === 2);

    frozen.kill('SIGSTOP');
    await waitFor('the stopped process to be dropped', async () => (await healthyServers(tb)) === 1, 3000);
    assert.equal(tb.logged('media server lost')[0]?.reason, 'heartbeat-timeout');

    crashed.kill('SIGKILL');
    await waitFor('the killed process to be dropped', async () => (await healthyServers(tb)) === 0, 3000);
    assert.equal(tb.logged('media server lost')[1]?.reason, 'control-closed');
    const client = await SessionClient.open(t, tb);
    assert.equal((await client.request({ room: 'lobby' })).code, 'NO_SERVER_AVAILABLE');
  });
});

const FIXTURE = fileURLToPath(new URL('./testing/fake-media-process.ts', import.meta.url));

async function spawnMedia(
  t: { after: (fn: () => void) => void },
  tb: TestBroker,
  id: string,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, BROKER_WS: tb.ws('/v1/control'), MEDIA_ID: id, USHER_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    // A stopped process must be continued before it can act on SIGKILL and be reaped.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'registered') resolve();
    });
    child.once('exit', (code) => reject(new Error(`fake media ${id} exited with ${code}`)));
  });
  return child;
}
