// The steady-state and join-latency scenarios in small (40 clients, 1 s windows, fast ping
// timing): every client joins the media server and gets its pongs, the bare echo answers the
// same pings, and the join runs (closed loop, then open loop at a share of its rate) complete
// without errors. Correctness only — the figures of a one-second run mean nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBenchmarks } from '../../bench/run.ts';

test('bench smoke: steady state against one media server and a bare ws echo, and join latency', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-steady-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = await runBenchmarks({
    scenarios: new Set(['steady', 'joins']),
    durationS: 1,
    warmupS: 0,
    clients: 4,
    mediaServers: 1,
    rounds: 1,
    stormClients: 2,
    stormProcesses: 1,
    stormFailures: [],
    stormTiming: {
      ping: { intervalMs: 200, timeoutMs: 600 },
      heartbeat: { intervalMs: 200, timeoutMs: 800 },
    },
    steadyClients: [40],
    steadyProcesses: 2,
    controlServers: [5],
    pin: false,
    profile: false,
    dir,
    seed: 1,
    logLevel: 'info',
    log: () => {},
  });

  const steady = report.steady ?? [];
  assert.deepEqual(
    steady.map((p) => `${p.target} ${p.clients}`),
    ['media 40', 'echo 40'],
  );
  for (const point of steady) {
    assert.equal(point.open, 40, `${point.target}: every client open (${JSON.stringify(point.errors)})`);
    assert.equal(point.failed, 0, point.target);
    // 40 clients pinging every 200 ms for a 1 s window: about 200 pings, allow for a slow machine.
    assert.ok(point.pongs >= 40, `${point.target}: ${point.pongs} pongs`);
    assert.ok(point.pongs <= point.pings + 40, `${point.target}: no pong without its ping`);
    // 40 clients' pings for a 1 s window may round to zero clock ticks of CPU: read, not positive.
    assert.ok(Number.isFinite(point.serverCpuUsPerPing) && point.serverCpuUsPerPing >= 0, point.target);
    assert.ok(point.rssMb > 0, `${point.target}: resident memory read`);
    assert.equal(point.closed, 0, `${point.target}: no connection dropped`);
  }

  const control = report.control ?? [];
  assert.equal(control.length, 1);
  assert.equal(control[0]!.registered, 5, 'every fake media server registered');
  assert.equal(control[0]!.closed, 0, 'none dropped');
  // 5 servers reporting once a second: a handful of reports, and the broker's CPU over a 1 s
  // window may round to zero clock ticks — only the count is certain.
  assert.ok(control[0]!.reportsPerSecond > 0, `reports: ${JSON.stringify(control[0])}`);

  const joins = report.joinLatency ?? [];
  assert.deepEqual(
    joins.map((p) => p.load),
    ['max', 'idle', '50 %', '90 %'],
  );
  for (const point of joins) {
    assert.ok(point.joins > 0, `${point.load}: joins completed`);
    assert.equal(point.errors, 0, `${point.load}: ${JSON.stringify(point.errorCodes)}`);
    assert.ok(point.p50Ms > 0 && point.p50Ms <= point.p99Ms && point.p99Ms <= point.maxMs, point.load);
    // A 1 s window of a few dozen joins may round to zero clock ticks: read (finite), not positive,
    // except at the closed-loop maximum, which keeps both servers busy.
    const { broker, media } = point.cpuUsPerJoin;
    assert.ok(Number.isFinite(broker) && Number.isFinite(media) && broker >= 0 && media >= 0, point.load);
    if (point.load === 'max') assert.ok(broker > 0 && media > 0, `${point.load}: CPU per join read`);
  }
  // The open-loop runs ask for a rate below the measured one.
  assert.ok(joins[2]!.targetPerSecond! < joins[0]!.joinsPerSecond, 'half the sustainable rate');
});
