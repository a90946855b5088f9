// The bench's failover storm in small: 60 simulated browsers (the SDK's own connection code)
// in rooms of 2–8 on 3 media server processes, one SIGKILLed and, on a fresh stack, one
// SIGSTOPped. Asserts correctness only — nothing lost, no room split, every affected client
// back, no healthy client failing over — never timing, which belongs to `usher bench`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Managed, ProcessGroup, planPinning } from '../../bench/lib/processes.ts';
import {
  type FailureKind,
  runStorm,
  runStormPhase,
  type StormPhaseResult,
} from '../../bench/storm/run-storm.ts';

const FAILURES: FailureKind[] = ['SIGKILL', 'SIGSTOP'];
/** Short timing keeps each storm to seconds; the bench itself uses the CLI defaults. */
const SMOKE_TIMING = {
  ping: { intervalMs: 200, timeoutMs: 600 },
  heartbeat: { intervalMs: 200, timeoutMs: 800 },
  rampPerSecond: 300,
  settleMs: 500,
  deadlineMs: 20_000,
};

describe('bench smoke: failover storm', { timeout: 120_000 }, () => {
  for (const failure of FAILURES) {
    test(`${failure} of one media server: nothing lost, nothing split`, async (t) => {
      const group = new ProcessGroup(planPinning(false));
      t.after(() => group.killAll());
      const result = await runStormPhase(group, {
        clients: 60,
        failure,
        processes: 2,
        ...SMOKE_TIMING,
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

/** A ProcessGroup that remembers every pid it started, to check afterwards that none is left. */
class RecordingGroup extends ProcessGroup {
  readonly pids: Array<{ name: string; pid: number }> = [];

  override start(name: string, options: Parameters<ProcessGroup['start']>[1]): Managed {
    const managed = super.start(name, options);
    this.pids.push({ name, pid: managed.pid });
    return managed;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('bench smoke: failover storm on a fleet', { timeout: 180_000 }, () => {
  for (const front of ['haproxy', 'sdk'] as const) {
    test(`2 brokers sharing Redis (${front === 'haproxy' ? 'behind HAProxy' : 'both URLs in the SDK'}), 5 media servers: broker SIGKILL, then media SIGKILL, then SIGSTOP`, async (t) => {
      const group = new RecordingGroup(planPinning(false));
      t.after(() => group.killAll());
      const failures: FailureKind[] = ['BROKER_SIGKILL', 'SIGKILL', 'SIGSTOP'];
      const phases = await runStorm(group, {
        clients: 60,
        failures,
        brokers: 2,
        redis: true,
        mediaCount: 5,
        front,
        processes: 2,
        ...SMOKE_TIMING,
      });
      assert.deepEqual(
        phases.map((phase) => phase.failure),
        failures,
      );
      for (const phase of phases) {
        const detail = JSON.stringify({
          failure: phase.failure,
          victim: phase.victim,
          affected: phase.affectedClients,
          notRejoined: phase.affectedNotRejoined,
          lost: phase.lostDetail,
          errors: phase.attemptErrors,
        });
        assert.equal(phase.front, front);
        assert.equal(phase.lostSessions, 0, `no session lost: ${detail}`);
        assert.equal(phase.splitRooms, 0, `no room split across servers: ${detail}`);
        assert.equal(phase.falseFailovers, 0, `no client of a healthy server failed over: ${detail}`);
        assert.equal(phase.affectedNotRejoined, 0, `every affected client rejoined: ${detail}`);
        assert.ok(
          phase.load.redis !== undefined && phase.load.redis.commands >= 0,
          `Redis was read: ${detail}`,
        );
        assert.ok(
          phase.load.cpu['broker b2'] !== undefined,
          `the surviving broker's CPU was sampled: ${detail}`,
        );
      }
      const [brokerKill, mediaKill, mediaStop] = phases as [
        StormPhaseResult,
        StormPhaseResult,
        StormPhaseResult,
      ];
      assert.equal(brokerKill.affectedClients, 0, 'a broker kill moves nobody');
      assert.ok(brokerKill.brokerSocketsLost > 0, "the killed broker held some clients' broker sockets");
      for (const phase of [mediaKill, mediaStop]) {
        assert.ok(phase.affectedClients > 0, `${phase.failure}: the victim hosted clients`);
        assert.equal(
          phase.roomRejoinMs.n,
          phase.affectedRooms,
          `${phase.failure}: every affected room is whole`,
        );
        assert.equal(
          phase.brokerAnswerMs.n,
          phase.affectedClients,
          `${phase.failure}: every rejoin's broker answer was seen on the wire`,
        );
      }
      assert.notEqual(mediaKill.victim, mediaStop.victim);
      assert.equal(group.size, 0, 'the group holds no process');
      const left = group.pids.filter(({ pid }) => alive(pid));
      assert.deepEqual(
        left,
        [],
        'every process the storm started (brokers, media, redis, haproxy, clients) is gone',
      );
      const fleet = [
        'redis',
        'broker b1',
        'broker b2',
        'media m5',
        ...(front === 'haproxy' ? ['haproxy'] : []),
      ];
      assert.ok(
        fleet.every((name) => group.pids.some((entry) => entry.name === name)),
        `the fleet was started: ${group.pids.map((entry) => entry.name).join(', ')}`,
      );
      if (front === 'sdk') assert.ok(!group.pids.some((entry) => entry.name === 'haproxy'), 'no front');
    });
  }
});
