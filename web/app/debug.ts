// `window.__usher`: the test and debugging hooks (the e2e suite's contract — keep the
// shape). Reads the live session through the store; times are Date.now() epoch ms.
import type { FailoverRecord, IceRestartRecord, PeerMediaStats } from '../sdk/index.ts';
import type { CallStore } from './call-store.ts';

export interface UsherDebug {
  state(): string;
  serverId(): string | null;
  serverUrl(): string | null;
  peerIds(): string[];
  mediaStats(): Promise<Record<string, PeerMediaStats>>;
  /** Candidate types ('host' | 'srflx' | 'prflx' | 'relay') of each peer's selected ICE
   *  pair; null for a peer without one yet. Details (addresses, ports) are in mediaStats. */
  selectedCandidateTypes(): Promise<Record<string, { local: string; remote: string } | null>>;
  failovers(): FailoverRecord[];
  iceRestarts(): IceRestartRecord[];
  /** Sends `text` as a chat message to every peer over the data channels. */
  sendData(text: string): void;
  /** Chat texts received from peers, oldest first. */
  received(): string[];
}

export function createDebugApi(store: CallStore): UsherDebug {
  return {
    state: () => store.session?.state ?? store.getSnapshot().state,
    serverId: () => store.session?.serverId ?? null,
    serverUrl: () => store.session?.serverUrl ?? null,
    peerIds: () => store.session?.peers().map((peer) => peer.peerId) ?? [],
    mediaStats: async () => (store.session === null ? {} : await store.session.stats()),
    selectedCandidateTypes: async () => {
      const stats = store.session === null ? {} : await store.session.stats();
      return Object.fromEntries(
        Object.entries(stats).map(([peerId, { selectedPair }]) => [
          peerId,
          selectedPair === null ? null : { local: selectedPair.local.type, remote: selectedPair.remote.type },
        ]),
      );
    },
    failovers: () => store.session?.failovers() ?? [],
    iceRestarts: () => store.session?.iceRestarts() ?? [],
    sendData: (text) => store.sendChat(text),
    received: () => store.received(),
  };
}

declare global {
  interface Window {
    __usher?: UsherDebug;
  }
}

export function installDebugApi(target: Window, store: CallStore): void {
  target.__usher = createDebugApi(store);
}
