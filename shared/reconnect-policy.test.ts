// The default reconnect policy: window bounds per attempt, full-jitter spread across many
// clients (seeded, so it never flakes), and giving up after 60 s.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { JitterBackoffPolicy } from './reconnect-policy.ts';

/** Deterministic PRNG (mulberry32) so the spread assertions never flake. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ctx = (attempt: number, elapsedMs = 0) => ({ attempt, elapsedMs, reason: 'ping-timeout' });

describe('JitterBackoffPolicy', () => {
  test('first retry is uniform in [0, 300) ms', () => {
    assert.equal(new JitterBackoffPolicy({ random: () => 0 }).nextRetryDelayMs(ctx(0)), 0);
    assert.equal(new JitterBackoffPolicy({ random: () => 0.999999999 }).nextRetryDelayMs(ctx(0)), 299);
  });

  test('later windows double from 250·2^attempt up to 5000 ms', () => {
    const policy = new JitterBackoffPolicy();
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 50].map((attempt) => policy.windowMs(attempt)),
      [300, 500, 1000, 2000, 4000, 5000, 5000, 5000],
    );
  });

  test('every delay is an integer in [0, window) for any attempt and random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const policy = new JitterBackoffPolicy({ random: () => r });
          const delay = policy.nextRetryDelayMs(ctx(attempt, 1000));
          assert.ok(delay !== null && Number.isInteger(delay));
          assert.ok(delay >= 0 && delay < policy.windowMs(attempt), `${delay} for attempt ${attempt}`);
        },
      ),
    );
  });

  test('a thousand clients failing at once spread their first retries over the window', () => {
    const random = seeded(42);
    const policy = new JitterBackoffPolicy({ random });
    const delays = Array.from({ length: 1000 }, () => policy.nextRetryDelayMs(ctx(0))!);
    const buckets = [0, 0, 0];
    for (const delay of delays) buckets[Math.floor(delay / 100)]! += 1;
    // Uniform: ~333 per 100 ms bucket; a herd would put nearly all in one.
    for (const count of buckets) assert.ok(count > 280 && count < 390, `bucket counts ${buckets}`);
    assert.ok(new Set(delays).size > 250, 'distinct delays, not a few shared values');
  });

  test('gives up once 60 s have passed since the loss', () => {
    const policy = new JitterBackoffPolicy({ random: () => 0.5 });
    assert.equal(typeof policy.nextRetryDelayMs(ctx(12, 59_999)), 'number');
    assert.equal(policy.nextRetryDelayMs(ctx(12, 60_000)), null);
    assert.equal(policy.nextRetryDelayMs(ctx(0, 120_000)), null);
  });

  test('options override every bound', () => {
    const policy = new JitterBackoffPolicy({
      firstWindowMs: 10,
      baseMs: 100,
      maxMs: 300,
      giveUpAfterMs: 1000,
      random: () => 0.999999,
    });
    assert.deepEqual(
      [0, 1, 2, 3].map((attempt) => policy.nextRetryDelayMs(ctx(attempt))),
      [9, 199, 299, 299],
    );
    assert.equal(policy.nextRetryDelayMs(ctx(1, 1000)), null);
  });
});
