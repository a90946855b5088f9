// The embedded pin store against the PinStore contract (the Redis store runs the same tests).
import { describe } from 'node:test';
import { MemoryPinStore } from './pin-store.ts';
import { pinStoreContract } from './testing/pin-store-contract.ts';

describe('MemoryPinStore', () => {
  pinStoreContract(async () => new MemoryPinStore());
});
