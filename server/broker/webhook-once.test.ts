// The in-memory webhook claim store against the WebhookOnceStore contract.
import { describe } from 'node:test';
import { webhookOnceContract } from './testing/webhook-once-contract.ts';
import { MemoryWebhookOnceStore } from './webhook-once.ts';

describe('MemoryWebhookOnceStore', () => {
  webhookOnceContract(async () => {
    const store = new MemoryWebhookOnceStore();
    return [store, store];
  });
});
