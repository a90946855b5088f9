// The A/B regression guard's arithmetic, free of processes: each ratio's median over the rounds
// of the base and of the head, the change, and which ratios got worse than the tolerance allows.

import { renderTable } from '../report/table.ts';
import type { MeasurementSummary } from '../report/types.ts';
import { RATIO_SPECS, ratios } from '../scenarios/ratios.ts';

export interface GuardedRatio {
  id: string;
  label: string;
  /** Cost ratios (Usher over its limit) are better lower; joins per CPU-second vs Colyseus higher. */
  lowerIsBetter: boolean;
}

/** The hot-path ratios the guard compares: every ratio the report states a target for. */
export const GUARDED_RATIOS: readonly GuardedRatio[] = RATIO_SPECS.map((spec) => ({
  id: spec.id,
  label: spec.label,
  lowerIsBetter: spec.atMost,
}));

/** One run of one side: ratio id → value, for the ratios that run measured. */
export type RoundRatios = Readonly<Record<string, number>>;

/**
 * A run's ratios recomputed from its measurements with this tree's formulas, so that a base
 * whose report named or formed a ratio differently is still compared like for like.
 */
export function roundRatios(measurements: readonly MeasurementSummary[]): RoundRatios {
  return Object.fromEntries(ratios(measurements).map((ratio) => [ratio.id, ratio.value]));
}

export interface CheckRow {
  id: string;
  label: string;
  lowerIsBetter: boolean;
  /** Each round's value, in run order. */
  base: number[];
  head: number[];
  baseMedian: number;
  headMedian: number;
  /** (head − base) ÷ base, in %; NaN when either side did not measure the ratio. */
  changePct: number;
  /** How much worse than the base, in % (negative: better); NaN when not comparable. */
  worsePct: number;
  verdict: 'ok' | 'worse' | 'not measured on head' | 'not measured on base';
  /** Whether this row fails the check. */
  failed: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// A change exactly at the tolerance passes: "more than 10 % worse" fails, 10.0 % does not,
// whatever the last bit of the division says.
const EPSILON = 1e-9;

/**
 * Compares every guarded ratio measured by either side. A ratio fails when its head median is
 * more than `tolerance` (0.10 = 10 %) worse than its base median, in the ratio's own direction,
 * or when the base measured it and the head did not. One the base did not measure (an older
 * base) is listed and does not fail.
 */
export function compareRatios(
  base: readonly RoundRatios[],
  head: readonly RoundRatios[],
  tolerance: number,
  guarded: readonly GuardedRatio[] = GUARDED_RATIOS,
): CheckRow[] {
  const rows: CheckRow[] = [];
  for (const ratio of guarded) {
    const baseValues = base.flatMap((round) => (ratio.id in round ? [round[ratio.id]!] : []));
    const headValues = head.flatMap((round) => (ratio.id in round ? [round[ratio.id]!] : []));
    if (baseValues.length === 0 && headValues.length === 0) continue;
    const baseMedian = median(baseValues);
    const headMedian = median(headValues);
    const changePct = ((headMedian - baseMedian) / baseMedian) * 100;
    const worsePct = ratio.lowerIsBetter ? changePct : -changePct;
    let verdict: CheckRow['verdict'];
    if (headValues.length === 0) verdict = 'not measured on head';
    else if (baseValues.length === 0) verdict = 'not measured on base';
    else verdict = worsePct / 100 - tolerance > EPSILON ? 'worse' : 'ok';
    rows.push({
      id: ratio.id,
      label: ratio.label,
      lowerIsBetter: ratio.lowerIsBetter,
      base: baseValues,
      head: headValues,
      baseMedian,
      headMedian,
      changePct,
      worsePct,
      verdict,
      failed: verdict === 'worse' || verdict === 'not measured on head',
    });
  }
  return rows;
}

/** A side run's busy shares of one measurement, as its report gives them (medians, %). */
export interface RunShares {
  side: string;
  round: number;
  /** Measurement id → server and load generator CPU as shares of one core. */
  busyPct: Record<string, { server: number; client: number }>;
}

/**
 * The guarded measurements in which neither the server nor its load generator had most of a
 * core: other tenants took the time, and CPU per op rises with that (docs/PERFORMANCE.md,
 * Method). Each as "base 1 assign.ws (server 64 %, client 27 %)", and how many were measured.
 */
export function contendedMeasurements(
  runs: readonly RunShares[],
  belowPct = 80,
): { contended: string[]; of: number } {
  const guarded = new Set(RATIO_SPECS.flatMap((spec) => [spec.usher, spec.reference]));
  const measured = runs.flatMap((run) =>
    Object.entries(run.busyPct)
      .filter(([id]) => guarded.has(id))
      .map(([id, busy]) => ({ run, id, busy })),
  );
  return {
    contended: measured
      .filter(({ busy }) => busy.server < belowPct && busy.client < belowPct)
      .map(
        ({ run, id, busy }) =>
          `${run.side} ${run.round + 1} ${id} (server ${Math.round(busy.server)} %, client ${Math.round(busy.client)} %)`,
      ),
    of: measured.length,
  };
}

const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');
const signedPct = (value: number): string =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)} %` : 'n/a';

/** The comparison as a table (text for stdout, or Markdown for docs/PERFORMANCE.md). */
export function checkTable(rows: readonly CheckRow[], tolerance: number, markdown = false): string {
  const header = ['ratio', 'better', 'base', 'head', 'change', 'base rounds', 'head rounds', 'verdict'];
  const body = rows.map((row) => [
    `${row.id}: ${row.label}`,
    row.lowerIsBetter ? 'lower' : 'higher',
    times(row.baseMedian),
    times(row.headMedian),
    signedPct(row.changePct),
    row.base.map((value) => value.toFixed(2)).join(', '),
    row.head.map((value) => value.toFixed(2)).join(', '),
    row.verdict === 'worse'
      ? `FAIL: ${row.worsePct.toFixed(1)} % worse (> ${(tolerance * 100).toFixed(0)} %)`
      : row.verdict,
  ]);
  return renderTable(header, body, markdown);
}

/** One line naming every failed ratio, or undefined when the check passed. */
export function failureSummary(
  rows: readonly CheckRow[],
  tolerance: number,
  baseName: string,
): string | undefined {
  const failed = rows.filter((row) => row.failed);
  if (failed.length === 0) return undefined;
  const items = failed.map((row) =>
    row.verdict === 'worse'
      ? `${row.id} ${times(row.baseMedian)} → ${times(row.headMedian)} (${row.worsePct.toFixed(1)} % worse)`
      : `${row.id} (${row.verdict})`,
  );
  return `regression guard failed against ${baseName} (tolerance ${(tolerance * 100).toFixed(0)} %): ${items.join('; ')}`;
}
