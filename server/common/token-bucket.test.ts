// Token bucket with a fake clock: burst, refill, retry hint, and the abuse threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from './token-bucket.ts';

const options = { burst: 10, perSecond: 5, abuseDebt: 40 };

test('allows the burst at once, then limits', () => {
  const bucket = new TokenBucket(options, 0);
  for (let i = 0; i < 10; i++) assert.equal(bucket.take(0), 'ok');
  assert.equal(bucket.take(0), 'limited');
});

test('refills at the sustained rate, never above the burst', () => {
  const bucket = new TokenBucket(options, 0);
  for (let i = 0; i < 10; i++) bucket.take(0);
  assert.equal(bucket.take(0), 'limited'); // debt 1
  // 5/s: 400 ms buys 2 tokens, which pays the debt and one message.
  assert.equal(bucket.take(400), 'ok');
  assert.equal(bucket.take(400), 'limited');
  // A long quiet spell refills only up to the burst.
  const later = 1_000_000;
  for (let i = 0; i < 10; i++) assert.equal(bucket.take(later), 'ok');
  assert.equal(bucket.take(later), 'limited');
});

test('steady traffic under the rate is never limited', () => {
  const bucket = new TokenBucket(options, 0);
  for (let t = 0; t < 60_000; t += 200) assert.equal(bucket.take(t), 'ok');
});

test('retryAfterMs says when one message would pass', () => {
  const bucket = new TokenBucket(options, 0);
  for (let i = 0; i < 10; i++) bucket.take(0);
  assert.equal(bucket.retryAfterMs(), 200);
  bucket.take(0); // tokens -1
  assert.equal(bucket.retryAfterMs(), 400);
  assert.equal(bucket.take(400), 'ok');
});

test('ignoring the limit for 5× the burst counts as abuse', () => {
  const bucket = new TokenBucket(options, 0);
  const verdicts = Array.from({ length: 60 }, () => bucket.take(0));
  assert.equal(verdicts.filter((v) => v === 'ok').length, 10);
  assert.equal(verdicts.indexOf('abuse'), 10 + 40);
});
