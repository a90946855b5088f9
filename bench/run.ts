// The bench run: starts what the chosen scenarios need on the server core, runs each scenario
// (bench/scenarios/) in turn — the load pairs on one set of servers, then the storm phases on
// fresh stacks, then the in-process scale — and returns the report. Everything it started is
// stopped at the end.
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig, Scenario } from './config.ts';
import { killOnExit, type PinPlan, ProcessGroup, planPinning } from './lib/processes.ts';
import type { BenchReport, CalibrationSummary, MeasurementSummary } from './report/types.ts';
import type { ScalePoint } from './scale/assign-scale.ts';
import { assignLimitPairs } from './scenarios/assign-limit.ts';
import { runCalibration } from './scenarios/calibration.ts';
import { type ScenarioContext, startLoadServers, stopLoadServers } from './scenarios/context.ts';
import { httpPairs } from './scenarios/http.ts';
import { type JoinLatencyPoint, runJoinLatency } from './scenarios/join-latency.ts';
import { measurePairs } from './scenarios/pairs.ts';
import { peerPairs } from './scenarios/peer.ts';
import { ratios } from './scenarios/ratios.ts';
import { runScale } from './scenarios/scale.ts';
import { runSteadyScenario } from './scenarios/steady.ts';
import { runStorm } from './scenarios/storm.ts';
import type { ControlPoint, SteadyPoint } from './steady/run-steady.ts';
import type { StormPhaseResult } from './storm/run-storm.ts';

export async function runBenchmarks(config: BenchConfig): Promise<BenchReport> {
  const { log } = config;
  mkdirSync(config.dir, { recursive: true });
  const pin: PinPlan = planPinning(config.pin);
  const group = new ProcessGroup(pin);
  const removeExitHandlers = killOnExit(group);
  const notes: string[] = [];
  const measurements: MeasurementSummary[] = [];
  let calibration: CalibrationSummary[] = [];
  let storm: StormPhaseResult[] = [];
  let scale: ScalePoint[] = [];
  let steady: SteadyPoint[] = [];
  let control: ControlPoint[] = [];
  let joinLatency: JoinLatencyPoint[] = [];
  let parts: Record<string, number> = {};
  const ctx: ScenarioContext = {
    config,
    group,
    log,
    nodeFlags: config.profile ? ['--cpu-prof', '--cpu-prof-dir', join(config.dir, 'profiles')] : [],
    wants: (scenario: Scenario) => config.scenarios.has(scenario),
  };
  log(`usher bench: ${pin.note}`);
  try {
    const servers = await startLoadServers(ctx);
    const load = { ...ctx, servers };
    measurements.push(
      ...(await measurePairs(ctx, [...assignLimitPairs(load), ...httpPairs(load), ...peerPairs(load)])),
    );
    const calibrated = await runCalibration(load, measurements);
    measurements.push(...calibrated.measurements);
    calibration = calibrated.calibration;
    await stopLoadServers(ctx, servers);

    if (ctx.wants('storm')) storm = await runStorm(ctx);
    if (ctx.wants('joins')) joinLatency = await runJoinLatency(ctx);
    if (ctx.wants('steady')) ({ steady, control } = await runSteadyScenario(ctx));
    if (ctx.wants('scale')) ({ points: scale, parts } = await runScale(ctx));
    if (!pin.enabled)
      notes.push(`Processes were not pinned (${pin.note}): CPU per op is still valid, throughput less so.`);
  } finally {
    await group.killAll();
    removeExitHandlers();
  }

  return {
    version: 1,
    date: new Date().toISOString(),
    machine: machineInfo(),
    pinning: pin.note,
    config: { ...configForReport(config) },
    measurements,
    ratios: ratios(measurements),
    calibration,
    storm,
    steady,
    control,
    joinLatency,
    scale,
    parts,
    notes,
  };
}

function configForReport(config: BenchConfig): BenchReport['config'] {
  const { log: _log, scenarios, ...rest } = config;
  return { ...rest, scenarios: [...scenarios] };
}

export function machineInfo(): BenchReport['machine'] {
  return {
    cores: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    platform: process.platform,
  };
}
