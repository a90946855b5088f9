// The in-memory webhook claim store against the WebhookOnceStore contract.
import { describe } from 'node:test';
import { MemoryWebhookOnceStore } from './webhook-once.ts';
import { webhookOnceContract } from './webhook-once-contract.ts';

describe('MemoryWebhookOnceStore', () => {
  webhookOnceContract(async () => {
    const store = new MemoryWebhookOnceStore();
    return [store, store];
  });
});
