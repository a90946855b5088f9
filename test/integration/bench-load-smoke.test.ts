// The bench's load scenarios in small (1 s windows, one round): every pair and every calibrated
// twin runs against real servers and completes operations without errors, the ratios and the
// calibration are reported, and the run leaves no process behind. Correctness only — the
// figures of a one-second run on a test machine mean nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBenchmarks } from '../../bench/run.ts';

test('bench smoke: assign, limit and http pairs with their calibrated twins', {
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = await runBenchmarks({
    scenarios: new Set(['assign', 'limit', 'http']),
    durationS: 1,
    warmupS: 0,
    clients: 8,
    mediaServers: 1,
    rounds: 1,
    stormClients: 2,
    stormProcesses: 1,
    stormFailures: [],
    steadyClients: [],
    steadyProcesses: 1,
    controlServers: [],
    pin: false,
    profile: false,
    dir,
    seed: 1,
    // Readiness is read from the servers' info lines.
    logLevel: 'info',
    log: () => {},
  });

  const ids = report.measurements.map((m) => m.id).sort();
  assert.deepEqual(ids, [
    'assign.conn',
    'assign.ws',
    'http.fastify',
    'http.fastify.x2',
    'http.usher',
    'limit.conn',
    'limit.conn.x1.5',
    'limit.ws',
    'limit.ws.x2',
  ]);
  for (const m of report.measurements) {
    assert.ok(m.ops > 0, `${m.id} completed operations`);
    assert.equal(m.errors, 0, `${m.id} had no errors: ${JSON.stringify(m.errorCodes)}`);
    assert.ok(m.cpuUsPerOp > 0, `${m.id} charged server CPU`);
  }
  assert.deepEqual(report.ratios.map((r) => r.id).sort(), ['assign.conn', 'assign.ws', 'http']);
  assert.deepEqual(
    (report.calibration ?? []).map((c) => [c.reference, c.usher, c.factor]),
    [
      ['limit.ws', 'assign.ws', 2],
      ['limit.conn', 'assign.conn', 1.5],
      ['http.fastify', 'http.usher', 2],
    ],
  );
  for (const c of report.calibration ?? []) {
    const bare = report.measurements.find((m) => m.id === c.reference)!;
    assert.ok(
      Math.abs(c.workUs - (c.factor - 1) * bare.cpuUsPerOp) < 0.1,
      `${c.id} works the target's multiple`,
    );
  }
});
