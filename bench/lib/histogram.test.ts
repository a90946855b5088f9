// The latency histogram: quantiles within its 1 % precision, merging across processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Histogram, quantileOf } from './histogram.ts';

describe('Histogram', () => {
  test('quantiles of 1…10000 µs are within 1 %', () => {
    const histogram = new Histogram();
    for (let us = 1; us <= 10_000; us += 1) histogram.record(us);
    for (const [q, expected] of [
      [0.5, 5000],
      [0.99, 9900],
      [0.999, 9990],
    ] as const) {
      const got = histogram.quantile(q);
      assert.ok(Math.abs(got - expected) / expected <= 0.011, `q${q}: ${got} vs ${expected}`);
    }
    assert.equal(histogram.quantile(1), 10_000);
    assert.equal(histogram.count, 10_000);
  });

  test('merging two halves equals recording all', () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 5000; i += 1) {
      const value = (i * 7919) % 100_000;
      (i % 2 === 0 ? a : b).record(value);
      all.record(value);
    }
    const merged = Histogram.from(a.toJSON());
    merged.merge(b.toJSON());
    assert.deepEqual(merged.toJSON(), all.toJSON());
    assert.equal(merged.quantile(0.99), all.quantile(0.99));
  });

  test('empty histograms and arrays give NaN', () => {
    assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
    assert.ok(Number.isNaN(quantileOf([], 0.5)));
    assert.equal(quantileOf([3, 1, 2], 0.5), 2);
  });
});
