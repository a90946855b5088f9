// The Redis webhook claim store against a real redis-server: the WebhookOnceStore contract
// with two connections (two brokers), failures as INTERNAL, and configuration errors.
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { UsherError } from '../../shared/errors.ts';
import { UsherConfigError } from '../common/config-error.ts';
import { RedisWebhookOnceStore } from './redis-webhook-once.ts';
import { startRedis, type TestRedis } from './testing/redis-server.ts';
import { webhookOnceContract } from './testing/webhook-once-contract.ts';

let prefixes = 0;

async function open(t: TestContext, url: string, keyPrefix: string): Promise<RedisWebhookOnceStore> {
  const store = new RedisWebhookOnceStore({ url, keyPrefix });
  t.after(() => store.close());
  assert.equal(await store.ready(5000), true, 'connected to redis');
  return store;
}

describe('RedisWebhookOnceStore', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  describe('contract', () => {
    webhookOnceContract(async (t) => {
      const prefix = `t${++prefixes}:`;
      return [await open(t, redis.url, prefix), await open(t, redis.url, prefix)];
    });
  });

  test('another key prefix is another set of claims', async (t) => {
    const one = await open(t, redis.url, `p${++prefixes}:`);
    const two = await open(t, redis.url, `p${++prefixes}:`);
    assert.equal(await one.claim('e', 60_000), true);
    assert.equal(await two.claim('e', 60_000), true);
  });

  test('a stopped Redis fails claims at once with INTERNAL', async (t) => {
    const own = await startRedis(t);
    const store = await open(t, own.url, 'down:');
    await own.kill();
    const started = Date.now();
    await assert.rejects(store.claim('e', 60_000), (error: unknown) => {
      return error instanceof UsherError && error.code === 'INTERNAL';
    });
    assert.ok(Date.now() - started < 1500, 'fails fast');
  });

  test('configuration errors are UsherConfigError', () => {
    assert.throws(() => new RedisWebhookOnceStore({ url: 'http://127.0.0.1:6379' }), UsherConfigError);
    assert.throws(() => new RedisWebhookOnceStore({ url: 'not a url' }), UsherConfigError);
  });
});
