// The bench's failover storm in small: 60 simulated browsers (the SDK's own connection code)
// in rooms of 2–8 on 3 media server processes, one SIGKILLed and, on a fresh stack, one
// SIGSTOPped. Asserts correctness only — nothing lost, no room split, every affected client
// back, no healthy client failing over — never timing, which belongs to `usher bench`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProcessGroup, planPinning } from '../../bench/lib/processes.ts';
import { type FailureKind, runStormPhase } from '../../bench/storm/run-storm.ts';

const FAILURES: FailureKind[] = ['SIGKILL', 'SIGSTOP'];

describe('bench smoke: failover storm', { timeout: 120_000 }, () => {
  for (const failure of FAILURES) {
    test(`${failure} of one media server: nothing lost, nothing split`, async (t) => {
      const group = new ProcessGroup(planPinning(false));
      t.after(() => group.killAll());
      const result = await runStormPhase(group, {
        clients: 60,
        failure,
        processes: 2,
        // Short timing keeps the test to seconds; the bench itself uses the CLI defaults.
        ping: { intervalMs: 200, timeoutMs: 600 },
        heartbeat: { intervalMs: 200, timeoutMs: 800 },
        rampPerSecond: 300,
        settleMs: 500,
        deadlineMs: 20_000,
      });
      const detail = JSON.stringify({
        affected: result.affectedClients,
        notRejoined: result.affectedNotRejoined,
        lost: result.lostDetail,
        errors: result.attemptErrors,
      });
      assert.ok(result.affectedClients > 0, `the victim hosted no client: ${detail}`);
      assert.equal(result.affectedNotRejoined, 0, `every affected client rejoined: ${detail}`);
      assert.equal(
        result.roomRejoinMs.n,
        result.affectedRooms,
        `every affected room is whole again: ${detail}`,
      );
      assert.equal(result.lostSessions, 0, `no session lost: ${detail}`);
      assert.equal(result.splitRooms, 0, `no room split across servers: ${detail}`);
      assert.equal(result.falseFailovers, 0, `no client of a healthy server failed over: ${detail}`);
      assert.equal(group.size, 0, 'every process the storm started is gone');
    });
  }
});
