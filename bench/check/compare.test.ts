// The regression guard's arithmetic on made-up rounds: medians, the change in each ratio's own
// direction, which ratios fail at 10 %, and the run order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MeasurementSummary } from '../report/types.ts';
import {
  checkTable,
  compareRatios,
  contendedMeasurements,
  failureSummary,
  GUARDED_RATIOS,
  type GuardedRatio,
  median,
  roundRatios,
} from './compare.ts';
import { runOrder } from './run-check.ts';

const COST: GuardedRatio = { id: 'cost', label: 'Usher over its limit', lowerIsBetter: true };
const RATE: GuardedRatio = { id: 'rate', label: 'joins per CPU-second vs the peer', lowerIsBetter: false };

describe('median', () => {
  test('odd and even counts, unsorted input, empty', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('compareRatios', () => {
  test('medians of the rounds and the change in %', () => {
    const [row] = compareRatios(
      [{ cost: 2.0 }, { cost: 9.0 }, { cost: 2.2 }],
      [{ cost: 2.3 }, { cost: 2.4 }, { cost: 1.0 }],
      0.1,
      [COST],
    );
    assert.equal(row!.baseMedian, 2.2);
    assert.equal(row!.headMedian, 2.3);
    assert.ok(Math.abs(row!.changePct - 4.545) < 0.01, String(row!.changePct));
    assert.deepEqual(row!.base, [2.0, 9.0, 2.2]);
    assert.equal(row!.verdict, 'ok');
    assert.equal(row!.failed, false);
  });

  test('a cost ratio fails above +10 %, not at it; a better one passes', () => {
    const rows = (head: number) => compareRatios([{ cost: 2 }], [{ cost: head }], 0.1, [COST])[0]!;
    assert.equal(rows(2.2).verdict, 'ok', 'exactly 10 % worse passes');
    assert.equal(rows(2.21).verdict, 'worse');
    assert.equal(rows(2.21).failed, true);
    assert.ok(Math.abs(rows(2.21).worsePct - 10.5) < 1e-9);
    assert.equal(rows(1.0).verdict, 'ok', 'half the cost is better');
    assert.ok(rows(1.0).worsePct < 0);
  });

  test('a higher-is-better ratio fails when it falls by more than 10 %', () => {
    const row = (head: number) => compareRatios([{ rate: 1.5 }], [{ rate: head }], 0.1, [RATE])[0]!;
    assert.equal(row(1.35).verdict, 'ok', 'exactly 10 % lower passes');
    assert.equal(row(1.3).verdict, 'worse');
    assert.ok(Math.abs(row(1.3).worsePct - 13.33) < 0.01);
    assert.equal(row(3).verdict, 'ok', 'twice the joins is better');
  });

  test('the tolerance is the caller’s', () => {
    const [row] = compareRatios([{ cost: 2 }], [{ cost: 2.5 }], 0.3, [COST]);
    assert.equal(row!.verdict, 'ok');
    const [strict] = compareRatios([{ cost: 2 }], [{ cost: 2.05 }], 0, [COST]);
    assert.equal(strict!.verdict, 'worse');
  });

  test('a ratio the head lost fails; one an older base never measured is listed, not failed', () => {
    const rows = compareRatios([{ cost: 2 }, { cost: 2 }], [{ rate: 1.4 }, { rate: 1.6 }], 0.1, [COST, RATE]);
    assert.deepEqual(
      rows.map((row) => [row.id, row.verdict, row.failed]),
      [
        ['cost', 'not measured on head', true],
        ['rate', 'not measured on base', false],
      ],
    );
  });

  test('a ratio neither side measured is left out; several failures are all named', () => {
    const rows = compareRatios([{ cost: 2, rate: 1.5 }], [{ cost: 3, rate: 1.0 }], 0.1, [
      COST,
      RATE,
      { id: 'absent', label: 'x', lowerIsBetter: true },
    ]);
    assert.deepEqual(
      rows.map((row) => row.id),
      ['cost', 'rate'],
    );
    const summary = failureSummary(rows, 0.1, 'ea652f1');
    assert.ok(summary?.includes('cost 2.00× → 3.00× (50.0 % worse)'), summary);
    assert.ok(summary?.includes('rate 1.50× → 1.00× (33.3 % worse)'), summary);
    assert.equal(
      failureSummary(compareRatios([{ cost: 2 }], [{ cost: 2 }], 0.1, [COST]), 0.1, 'x'),
      undefined,
    );
  });

  test('the table shows every row with base, head, change and verdict', () => {
    const rows = compareRatios([{ cost: 2 }, { cost: 2.2 }], [{ cost: 2.6 }, { cost: 2.8 }], 0.1, [COST]);
    const text = checkTable(rows, 0.1);
    assert.match(text, /cost: Usher over its limit/);
    assert.match(text, /2\.10×/);
    assert.match(text, /2\.70×/);
    assert.match(text, /\+28\.6 %/);
    assert.match(text, /FAIL: 28\.6 % worse \(> 10 %\)/);
    assert.match(checkTable(rows, 0.1, true), /^\| ratio \|/);
  });
});

describe('the guarded ratios from a report', () => {
  const measurement = (id: string, cpuUsPerOp: number) => ({ id, cpuUsPerOp }) as MeasurementSummary;

  test('recomputed from CPU per op: cost ratios Usher ÷ limit, the join ratio Colyseus ÷ Usher', () => {
    const ratios = roundRatios([
      measurement('assign.ws', 30),
      measurement('limit.ws', 10),
      measurement('peer.usher', 300),
      measurement('peer.colyseus', 450),
    ]);
    assert.deepEqual(ratios, { 'assign.ws': 3, peer: 1.5 });
  });

  test('every hot path is guarded', () => {
    assert.deepEqual(
      GUARDED_RATIOS.map((ratio) => [ratio.id, ratio.lowerIsBetter]),
      [
        ['assign.ws', true],
        ['assign.conn', true],
        ['http', true],
        ['peer', false],
        ['peer.cold', false],
      ],
    );
  });
});

describe('runOrder', () => {
  test('both sides every round, the first alternating', () => {
    assert.deepEqual(
      runOrder(3).map(({ side, round }) => `${side}${round + 1}`),
      ['base1', 'head1', 'head2', 'base2', 'base3', 'head3'],
    );
  });
});

describe('contendedMeasurements', () => {
  test('a guarded measurement where neither the server nor the client had 80 % of a core', () => {
    const { contended, of } = contendedMeasurements([
      {
        side: 'base',
        round: 0,
        busyPct: {
          'assign.ws': { server: 64, client: 27 },
          'limit.ws': { server: 70, client: 95 },
          'limit.ws.x2': { server: 10, client: 10 },
        },
      },
      { side: 'head', round: 1, busyPct: { 'http.usher': { server: 98, client: 60 } } },
    ]);
    assert.equal(of, 3, 'the calibrated twin is not a guarded measurement');
    assert.deepEqual(contended, ['base 1 assign.ws (server 64 %, client 27 %)']);
  });
});
