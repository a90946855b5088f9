// The per-address budget with a fake clock: burst, sustained rate, retry hint, address
// normalisation (IPv4-mapped, IPv6 /64), bounded memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpBudget } from './ip-budget.ts';

function budget(overrides: { perMinute?: number; burst?: number; maxAddresses?: number } = {}) {
  const clock = { now: 0 };
  const b = new IpBudget({ perMinute: 60, burst: 5, ...overrides, now: () => clock.now });
  return { b, clock };
}

test('the burst passes at once; then one request per refill, with the wait as retry hint', () => {
  const { b, clock } = budget();
  for (let i = 0; i < 5; i++) assert.deepEqual(b.take('198.51.100.1').ok, true);
  const refused = b.take('198.51.100.1');
  assert.deepEqual(refused, { ok: false, retryAfterMs: 1000 });
  clock.now = 999;
  assert.equal(b.take('198.51.100.1').ok, false);
  clock.now = 1000;
  assert.equal(b.take('198.51.100.1').ok, true);
  assert.equal(b.take('198.51.100.1').ok, false);
});

test('refused requests cost nothing, so a client that obeys retryAfterMs gets through', () => {
  const { b, clock } = budget();
  for (let i = 0; i < 5; i++) b.take('a');
  for (let i = 0; i < 100; i++) assert.equal(b.take('a').ok, false);
  const verdict = b.take('a');
  assert.equal(verdict.ok, false);
  clock.now += verdict.ok ? 0 : verdict.retryAfterMs;
  assert.equal(b.take('a').ok, true);
});

test('a quiet spell refills up to the burst, never beyond', () => {
  const { b, clock } = budget();
  b.take('a');
  clock.now = 10 * 60_000;
  const results = Array.from({ length: 6 }, () => b.take('a').ok);
  assert.deepEqual(results, [true, true, true, true, true, false]);
});

test('addresses have separate budgets; IPv4-mapped IPv6 and one /64 count as one client', () => {
  const { b } = budget({ burst: 2 });
  assert.equal(b.take('203.0.113.7').ok, true);
  assert.equal(b.take('::ffff:203.0.113.7').ok, true);
  assert.equal(b.take('203.0.113.7').ok, false);
  assert.equal(b.take('203.0.113.8').ok, true);
  assert.equal(b.take('2001:db8:1:2::1').ok, true);
  assert.equal(b.take('2001:db8:1:2:ffff::9').ok, true);
  assert.equal(b.take('2001:db8:1:2::abcd').ok, false);
  assert.equal(b.take('2001:db8:1:3::1').ok, true);
  assert.equal(b.take('not an address').ok, true);
});

test('memory is bounded: the least recently seen address is forgotten first', () => {
  const { b } = budget({ burst: 1, maxAddresses: 3 });
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) b.take(address);
  assert.equal(b.take('10.0.0.1').ok, false); // seen again: now the most recent
  b.take('10.0.0.4'); // evicts 10.0.0.2
  assert.equal(b.size, 3);
  assert.equal(b.take('10.0.0.1').ok, false, 'kept');
  assert.equal(b.take('10.0.0.2').ok, true, 'forgotten, so a fresh budget');
});

test('nonsense configuration is refused', () => {
  assert.throws(() => new IpBudget({ perMinute: 0, burst: 5 }), RangeError);
  assert.throws(() => new IpBudget({ perMinute: 10, burst: 0 }), RangeError);
});
