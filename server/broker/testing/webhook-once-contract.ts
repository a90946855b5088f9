// The behaviour every WebhookOnceStore owes the dispatcher, as tests any implementation runs
// (memory in webhook-once.test.ts, Redis in redis-webhook-once.test.ts).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { waitUntil } from '../../../shared/testing/wait.ts';
import type { WebhookOnceStore } from '../webhook-once.ts';

/** Registers the contract's tests; `make` returns two handles on one fresh, empty store (two brokers). */
export function webhookOnceContract(
  make: (t: TestContext) => Promise<[WebhookOnceStore, WebhookOnceStore]>,
): void {
  test('the first claim of a key wins, later ones from either handle lose', async (t) => {
    const [one, two] = await make(t);
    assert.equal(await one.claim('e1:0', 60_000), true);
    assert.equal(await one.claim('e1:0', 60_000), false);
    assert.equal(await two.claim('e1:0', 60_000), false);
    assert.equal(await two.claim('e1:1', 60_000), true, 'another target is another claim');
  });

  test('concurrent claims of one key from two handles: exactly one wins', async (t) => {
    const [one, two] = await make(t);
    const keys = Array.from({ length: 50 }, (_, index) => `race-${index}`);
    const results = await Promise.all(
      keys.flatMap((key) => [one.claim(key, 60_000), two.claim(key, 60_000), one.claim(key, 60_000)]),
    );
    for (let index = 0; index < keys.length; index++)
      assert.equal(results.slice(index * 3, index * 3 + 3).filter(Boolean).length, 1, keys[index]);
  });

  test('a claim can be won again once its TTL has passed', async (t) => {
    const [one, two] = await make(t);
    assert.equal(await one.claim('short', 50), true);
    await waitUntil(async () => await two.claim('short', 60_000), 'the claim to expire', 3000);
    assert.equal(await one.claim('short', 60_000), false);
  });
}
