// A load pair: Usher against its limit or peer, measured in alternating rounds on the same
// cores, and the summary of each side's rounds (medians, latency quantiles, CPU per op by role).
import { Histogram } from '../lib/histogram.ts';
import type { LoadResult } from '../loadgen/closed-loop.ts';
import type { LoadJob } from '../loadgen/jobs.ts';
import { runLoadJob } from '../orchestrate/load-runner.ts';
import type { MeasurementSummary } from '../report/types.ts';
import type { ScenarioContext } from './context.ts';

export interface Side {
  id: string;
  label: string;
  system: string;
  job: (round: number) => LoadJob;
  roles: () => Record<number, string>;
}

/** Either side may be absent when only one of the pair's scenarios was chosen. */
export interface Pair {
  name: string;
  usher?: Side;
  reference?: Side;
}

/** The unmeasured load each side of a pair gets before its rounds, in warm-ups (`--warmup-s`). */
const PRIME_WARMUPS = 3;

/** Measures each pair's sides in alternating rounds; returns one summary per side, pair by pair. */
export async function measurePairs(
  ctx: ScenarioContext,
  pairs: readonly Pair[],
): Promise<MeasurementSummary[]> {
  const { config, group, log } = ctx;
  const measurements: MeasurementSummary[] = [];
  for (const pair of pairs) {
    const sides = [pair.usher, pair.reference].filter((side) => side !== undefined);
    const results = new Map<string, LoadResult[]>(sides.map((side) => [side.id, []]));
    // Unmeasured first: a side's first load after its processes started otherwise carries their
    // JIT warm-up into the window (and `--check` runs one round per fresh process).
    const primeMs = config.warmupS * PRIME_WARMUPS * 1000;
    if (primeMs > 0)
      for (const side of sides) {
        log(`usher bench: ${side.id} priming for ${primeMs / 1000} s`);
        await runLoadJob(group, `${side.id}.prime`, {
          ...side.job(config.rounds),
          warmupMs: 0,
          durationMs: primeMs,
        });
      }
    for (let round = 0; round < config.rounds; round += 1) {
      // Alternate which side goes first, so drift of the machine's load hits both alike.
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        log(`usher bench: ${side.id} round ${round + 1}/${config.rounds}`);
        results.get(side.id)!.push(await runLoadJob(group, side.id, side.job(round)));
      }
    }
    for (const side of sides) {
      const summary = summarize(side.id, side.label, side.system, results.get(side.id)!, side.roles());
      measurements.push(summary);
      log(
        `usher bench: ${side.id}: ${Math.round(summary.opsPerSec)} ops/s, ${summary.cpuUsPerOp.toFixed(1)} µs CPU/op, p99 ${summary.p99Ms.toFixed(2)} ms`,
      );
    }
  }
  return measurements;
}

const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export function summarize(
  id: string,
  label: string,
  system: string,
  results: LoadResult[],
  roles: Record<number, string>,
): MeasurementSummary {
  const latency = new Histogram();
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  let ops = 0;
  const external: Array<{ p50: number; p99: number; p999: number }> = [];
  for (const result of results) {
    latency.merge(result.latency);
    errors += result.errors;
    ops += result.ops;
    for (const [code, count] of Object.entries(result.errorCodes))
      errorCodes[code] = (errorCodes[code] ?? 0) + count;
    if (result.percentilesUs !== undefined) external.push(result.percentilesUs);
  }
  const cpuOf = (result: LoadResult): number => Object.values(result.serverCpuUs).reduce((a, b) => a + b, 0);
  const byRole = (result: LoadResult): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [pid, us] of Object.entries(result.serverCpuUs)) {
      const role = roles[Number(pid)] ?? 'server';
      out[role] = (out[role] ?? 0) + us / Math.max(1, result.ops);
    }
    return out;
  };
  // Only the roles whose processes were charged (assign charges the broker, not the media).
  const charged = new Set(results.flatMap((result) => Object.keys(result.serverCpuUs).map(Number)));
  const roleNames = [...new Set([...charged].map((pid) => roles[pid] ?? 'server'))];
  const quantileMs = (q: number, key: 'p50' | 'p99' | 'p999'): number =>
    external.length > 0 ? median(external.map((e) => e[key])) / 1000 : latency.quantile(q) / 1000;
  const cores = results[0]?.cores.length ?? 0;
  return {
    id,
    label,
    system,
    ops,
    opsPerSec: median(results.map((r) => (r.ops / r.windowMs) * 1000)),
    p50Ms: quantileMs(0.5, 'p50'),
    p99Ms: quantileMs(0.99, 'p99'),
    p999Ms: quantileMs(0.999, 'p999'),
    cpuUsPerOp: median(results.map((r) => cpuOf(r) / Math.max(1, r.ops))),
    cpuUsPerOpByRole: Object.fromEntries(
      roleNames.map((role) => [role, median(results.map((r) => byRole(r)[role] ?? 0))]),
    ),
    serverBusyPct: median(results.map((r) => (cpuOf(r) / 1000 / r.windowMs) * 100)),
    clientBusyPct: median(results.map((r) => (r.clientCpuUs / 1000 / r.windowMs) * 100)),
    coreBusyPct: Array.from({ length: cores }, (_, core) =>
      median(results.map((r) => (r.cores[core]?.busy ?? 0) * 100)),
    ),
    errors,
    errorCodes,
    rounds: results.map((r) => ({
      ops: r.ops,
      opsPerSec: (r.ops / r.windowMs) * 1000,
      cpuUsPerOp: cpuOf(r) / Math.max(1, r.ops),
      windowMs: r.windowMs,
    })),
  };
}
