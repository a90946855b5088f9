// React binding of the CallStore: re-render on every snapshot change.
import { useSyncExternalStore } from 'react';
import type { CallSnapshot, CallStore } from './call-store.ts';

export function useCall(store: CallStore): CallSnapshot {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
