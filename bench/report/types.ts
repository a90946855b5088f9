// The bench report's shape: report.json, and what the table, charts and markdown read.
import type { BenchConfig, Scenario } from '../config.ts';
import type { ScalePoint } from '../scale/assign-scale.ts';
import type { JoinLatencyPoint } from '../scenarios/join-latency.ts';
import type { ControlPoint, SteadyPoint } from '../steady/run-steady.ts';
import type { StormPhaseResult } from '../storm/run-storm.ts';

export interface MeasurementSummary {
  id: string;
  label: string;
  system: string;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Median over rounds of server CPU µs ÷ operations. */
  cpuUsPerOp: number;
  /** Per server process role (broker, media, …), µs per operation (median over rounds). */
  cpuUsPerOpByRole: Record<string, number>;
  /** Server processes' CPU as a share of one core (median): near 100 % = server-bound. */
  serverBusyPct: number;
  clientBusyPct: number;
  /** Each core's busy share, median over rounds (other tenants of the machine show here). */
  coreBusyPct: number[];
  errors: number;
  errorCodes: Record<string, number>;
  rounds: Array<{ ops: number; opsPerSec: number; cpuUsPerOp: number; windowMs: number }>;
}

/**
 * What the method makes of known extra work: a bare limit run again with busy CPU added to
 * each request so that it does exactly the target's multiple of its own work (twice, or 1.5
 * times) — the costliest server that would still meet the target in work done.
 */
export interface CalibrationSummary {
  /** The bare measurement it repeats, e.g. `limit.ws`. */
  reference: string;
  /** Its calibrated twin, e.g. `limit.ws.x2`. */
  id: string;
  /** The Usher measurement the target compares with the reference, e.g. `assign.ws`. */
  usher: string;
  /** Work multiple the twin does: the target (2 or 1.5). */
  factor: number;
  /** Busy µs added per request: (factor − 1) × the reference's median CPU µs per op. */
  workUs: number;
  /** Twin ÷ reference, server CPU µs per op: `factor` would mean the method adds nothing. */
  ratio: number;
  /** Usher ÷ twin: ≤ 1 ⇒ Usher spends no more CPU per op than a server doing `factor`× the work. */
  usherVsTwin: number;
}

export interface RatioSummary {
  id: string;
  label: string;
  /** How the value is formed, e.g. "assign.ws ÷ limit.ws (CPU µs per op)". */
  formula: string;
  value: number;
  target: string;
  met: boolean;
}

export interface BenchReport {
  version: 1;
  date: string;
  machine: { cores: number; model: string; node: string; kernel: string; platform: string };
  pinning: string;
  config: Omit<BenchConfig, 'log' | 'scenarios'> & { scenarios: Scenario[] };
  measurements: MeasurementSummary[];
  ratios: RatioSummary[];
  /** Absent in reports from before 2026-11-27. */
  calibration?: CalibrationSummary[];
  storm: StormPhaseResult[];
  /** Absent in reports from before 2026-12-03. */
  steady?: SteadyPoint[];
  /** Absent in reports from before 2026-12-03. */
  control?: ControlPoint[];
  /** Absent in reports from before 2026-12-03. */
  joinLatency?: JoinLatencyPoint[];
  /** Broker cost by fleet and room count (in-process, no sockets). */
  scale: ScalePoint[];
  /** µs per call of each piece of a session request and a join (in-process). */
  parts: Record<string, number>;
  notes: string[];
}
