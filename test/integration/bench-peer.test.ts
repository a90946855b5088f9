// The bench's peer is a real Colyseus 0.18 server: the official SDK joins it, and the bench's
// raw join (seat reservation → room WebSocket → JOIN_ROOM → ack) does the same flow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '@colyseus/sdk';
import { ProcessGroup, planPinning } from '../../bench/lib/processes.ts';
import { colyseusJoins } from '../../bench/loadgen/ops.ts';
import { startBenchServer } from '../../bench/orchestrate/servers.ts';

test('the Colyseus peer accepts the SDK and the bench raw join alike', { timeout: 60_000 }, async (t) => {
  const group = new ProcessGroup(planPinning(false));
  t.after(() => group.killAll());
  const server = await startBenchServer(group, 'colyseus-server', ['--room-size', '4']);

  const room = await new Client(`http://127.0.0.1:${server.port}`).joinOrCreate('bench');
  assert.ok(room.sessionId.length > 0);
  await room.leave();

  for (const kept of [false, true]) {
    const built = colyseusJoins('127.0.0.1', server.port, 'bench', kept);
    const outcome = await new Promise<string | undefined>((resolve) => built.op(0, 0, resolve));
    built.cleanup();
    assert.equal(outcome, undefined, `raw join (kept HTTP connection: ${kept}) failed: ${outcome}`);
  }
});
