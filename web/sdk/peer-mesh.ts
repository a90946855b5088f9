// The call's P2P mesh: one PeerLink per remote peer, keyed by peer id (stable across a
// failover), who offers to whom, ICE restarts when peers meet again on a new server, and
// when a peer that is gone from the room is finally dropped.
import type { PeerInfo, SignalData } from '../../shared/protocol/media.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { Emitter } from './emitter.ts';
import type { IceRestartRecord } from './ice-restart.ts';
import { PeerLink } from './peer-link.ts';
import { collectPeerStats, type PeerMediaStats } from './peer-stats.ts';
import { dtlsFingerprint } from './sdp.ts';

export interface PeerSummary {
  peerId: string;
  name: string;
  /** Seen on the current media server (false while it may still be failing over). */
  present: boolean;
  stream: MediaStream | null;
  connectionState: RTCPeerConnectionState;
  iceState: RTCIceConnectionState;
  dataOpen: boolean;
}

export type PeerMeshEvents = {
  /** The peer list or a peer's state changed. */
  peers: (peers: PeerSummary[]) => void;
  track: (peerId: string, stream: MediaStream) => void;
  data: (peerId: string, text: string) => void;
  'ice-restart': (record: IceRestartRecord) => void;
};

export interface PeerMeshOptions {
  /** Send a signal to `to` through the current media server; false when there is none. */
  signal: (to: string, data: SignalData) => boolean;
  localStream?: MediaStream | null;
  iceServers?: RTCIceServer[];
  /** 'relay' sends everything through TURN (e.g. to hide addresses, or to test TURN). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  clock?: Clock;
  /** A peer absent from the room whose ICE stays failed/closed this long is dropped. */
  goneAfterMs?: number;
  /** Least time between two automatic ICE restarts of one peer whose ICE failed. */
  autoRestartEveryMs?: number;
}

interface PeerEntry {
  peerId: string;
  name: string;
  link: PeerLink | null;
  /** Candidates that came before the offer that creates our link (answerer side). */
  early: WireCandidate[];
  present: boolean;
  goneTimer: TimerHandle | null;
  lastAutoRestartAt: number;
}

type WireCandidate = NonNullable<Extract<SignalData, { candidate: unknown }>['candidate']>;

const MAX_RESTART_RECORDS = 200;
const MAX_EARLY_CANDIDATES = 64;

export class PeerMesh extends Emitter<PeerMeshEvents> {
  readonly #options: PeerMeshOptions;
  readonly #clock: Clock;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #restarts: IceRestartRecord[] = [];
  #self: string | null = null;
  #iceServers: RTCIceServer[];
  /** One per media-server connection: offers of an older epoch were lost with their server. */
  #epoch = 0;
  #closed = false;

  constructor(options: PeerMeshOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#iceServers = options.iceServers ?? [];
  }

  get selfId(): string | null {
    return this.#self;
  }

  /** Our own peer id; a different id means a new session, so every call starts over. */
  setSelf(peerId: string): void {
    if (this.#self !== null && this.#self !== peerId) this.#dropAll();
    this.#self = peerId;
  }

  /** TURN credentials come with each assignment; restarts use the fresh ones. */
  setIceServers(iceServers: RTCIceServer[]): void {
    this.#iceServers = iceServers;
    for (const entry of this.#peers.values()) {
      if (entry.link === null || entry.link.closed) continue;
      try {
        entry.link.pc.setConfiguration({ ...entry.link.pc.getConfiguration(), ...this.#config() });
      } catch {
        // An implementation refusing the change keeps the old servers; host candidates still work.
      }
    }
  }

  /** `joined` on a (new) media server: these peers are here; the others may still come back. */
  roomJoined(peers: readonly PeerInfo[]): void {
    this.#epoch += 1;
    const here = new Set(peers.map((peer) => peer.peerId));
    for (const entry of this.#peers.values()) {
      if (!here.has(entry.peerId)) this.#markAbsent(entry);
    }
    for (const peer of peers) this.#contact(peer);
    this.#changed();
  }

  peerJoined(peer: PeerInfo): void {
    this.#contact(peer);
    this.#changed();
  }

  peerLeft(peerId: string, reason: 'left' | 'disconnected'): void {
    const entry = this.#peers.get(peerId);
    if (entry === undefined) return;
    // 'left' ends the call; 'disconnected' only lost its signaling, media may still flow.
    if (reason === 'left') this.#remove(entry);
    else this.#markAbsent(entry);
    this.#changed();
  }

  signal(from: string, data: SignalData): void {
    if (this.#closed || from === this.#self) return;
    const known = this.#peers.has(from);
    const entry = this.#entry(from, null);
    const wasPresent = entry.present;
    entry.present = true;
    this.#clearGone(entry);
    const before = entry.link;
    const apply = 'description' in data ? this.#prepareFor(entry, data.description) : true;
    const link = entry.link;
    if (link === null) {
      // No connection yet: hold candidates for the offer that will create it.
      if ('candidate' in data && data.candidate !== null && entry.early.length < MAX_EARLY_CANDIDATES) {
        entry.early.push(data.candidate);
      }
    } else if (apply) {
      link.receive(data).catch(() => {
        if ('description' in data && data.description.type === 'offer' && entry.link === link) {
          // Our connection cannot take this offer (e.g. its m-lines no longer match): start clean.
          this.#replaceLink(entry, false);
          void entry.link!.receive(data).catch(() => undefined);
          this.#changed();
        }
      });
      if (link !== before) {
        for (const candidate of entry.early.splice(0))
          void link.receive({ candidate }).catch(() => undefined);
      }
    }
    if (!known || !wasPresent || entry.link !== before) this.#changed();
  }

  /** Make the link fit an incoming description: create it for a first offer, replace it when
   *  the other side's DTLS fingerprint changed (it built a new RTCPeerConnection). Returns
   *  whether the description should be applied. */
  #prepareFor(entry: PeerEntry, description: { type: 'offer' | 'answer'; sdp: string }): boolean {
    const fingerprint = dtlsFingerprint(description.sdp);
    const known = entry.link?.remoteFingerprint ?? null;
    if (entry.link !== null && known !== null && fingerprint !== null && known !== fingerprint) {
      if (description.type === 'offer') {
        this.#replaceLink(entry, false);
        return true;
      }
      // Our offer reached a fresh connection of theirs: its answer cannot fit ours. Start over
      // with a fresh offer (their side replaces its connection when it sees our new fingerprint).
      this.#replaceLink(entry, true);
      void entry.link!.offer(this.#epoch, false).catch(() => undefined);
      return false;
    }
    if (description.type === 'offer' && entry.link === null)
      entry.link = this.#createLink(entry.peerId, false);
    return true;
  }

  /** Send to every peer whose data channel is open; returns how many got it. */
  broadcast(text: string): number {
    let sent = 0;
    for (const entry of this.#peers.values()) if (entry.link?.send(text)) sent += 1;
    return sent;
  }

  /** Send to one peer if its data channel is open. */
  send(peerId: string, text: string): boolean {
    return this.#peers.get(peerId)?.link?.send(text) ?? false;
  }

  peers(): PeerSummary[] {
    return [...this.#peers.values()].map((entry) => ({
      peerId: entry.peerId,
      name: entry.name,
      present: entry.present,
      stream: entry.link?.remoteStream ?? null,
      connectionState: entry.link?.pc.connectionState ?? 'new',
      iceState: entry.link?.pc.iceConnectionState ?? 'new',
      dataOpen: entry.link?.channel.readyState === 'open',
    }));
  }

  async stats(): Promise<Record<string, PeerMediaStats>> {
    const entries = [...this.#peers.values()];
    const stats = await Promise.all(entries.map((entry) => collectPeerStats(entry.link?.pc ?? null)));
    return Object.fromEntries(entries.map((entry, index) => [entry.peerId, stats[index]!]));
  }

  iceRestarts(): IceRestartRecord[] {
    return this.#restarts.map((record) => ({ ...record }));
  }

  close(): void {
    this.#closed = true;
    this.#dropAll();
    this.removeAllListeners();
  }

  #isOfferer(peerId: string): boolean {
    return this.#self !== null && this.#self < peerId;
  }

  #entry(peerId: string, name: string | null): PeerEntry {
    let entry = this.#peers.get(peerId);
    if (entry === undefined) {
      entry = {
        peerId,
        name: name ?? '',
        link: null,
        early: [],
        present: true,
        goneTimer: null,
        lastAutoRestartAt: 0,
      };
      this.#peers.set(peerId, entry);
    } else if (name !== null) {
      entry.name = name;
    }
    return entry;
  }

  /** The peer is in the room with us: the offerer starts a call, or restarts ICE on the one it has. */
  #contact(peer: PeerInfo): void {
    if (this.#closed || peer.peerId === this.#self) return;
    const entry = this.#entry(peer.peerId, peer.name);
    entry.present = true;
    this.#clearGone(entry);
    if (!this.#isOfferer(peer.peerId)) return; // The other side offers; we answer.
    if (entry.link === null || entry.link.closed) {
      entry.link = this.#createLink(peer.peerId, true);
      void entry.link.offer(this.#epoch, false).catch(() => undefined);
    } else {
      void entry.link.offer(this.#epoch, true).catch(() => undefined);
    }
  }

  #createLink(peerId: string, offerer: boolean): PeerLink {
    const link = new PeerLink({
      peerId,
      offerer,
      config: this.#config(),
      localStream: this.#options.localStream ?? null,
      createPeerConnection: this.#options.createPeerConnection ?? ((config) => new RTCPeerConnection(config)),
      signal: (data) => this.#options.signal(peerId, data),
      clock: this.#clock,
    });
    link.on('track', (stream) => {
      this.emit('track', peerId, stream);
      this.#changed();
    });
    link.on('data', (text) => this.emit('data', peerId, text));
    link.on('ice-restart', (record) => this.#recordRestart(record));
    link.on('state', () => this.#onLinkState(peerId, link));
    return link;
  }

  #config(): RTCConfiguration {
    const policy = this.#options.iceTransportPolicy;
    return policy === undefined
      ? { iceServers: this.#iceServers }
      : { iceServers: this.#iceServers, iceTransportPolicy: policy };
  }

  #replaceLink(entry: PeerEntry, offerer = this.#isOfferer(entry.peerId)): void {
    entry.link?.close();
    entry.link = this.#createLink(entry.peerId, offerer);
  }

  #onLinkState(peerId: string, link: PeerLink): void {
    const entry = this.#peers.get(peerId);
    if (entry === undefined || entry.link !== link) return;
    this.#checkGone(entry);
    const every = this.#options.autoRestartEveryMs ?? 5000;
    const now = this.#clock.now();
    if (
      entry.present &&
      link.offerer &&
      link.pc.iceConnectionState === 'failed' &&
      now - entry.lastAutoRestartAt >= every
    ) {
      // The path broke while both of us can still signal: an ICE restart may find another.
      entry.lastAutoRestartAt = now;
      void link.offer(this.#epoch, true).catch(() => undefined);
    }
    this.#changed();
  }

  #recordRestart(record: IceRestartRecord): void {
    if (!this.#restarts.includes(record)) {
      this.#restarts.push(record);
      if (this.#restarts.length > MAX_RESTART_RECORDS) this.#restarts.shift();
    }
    this.emit('ice-restart', { ...record });
  }

  #markAbsent(entry: PeerEntry): void {
    entry.present = false;
    this.#checkGone(entry);
  }

  /** Absent and without working media for goneAfterMs ⇒ the peer is not coming back. */
  #checkGone(entry: PeerEntry): void {
    const hopeless = entry.link === null || entry.link.broken;
    if (entry.present || !hopeless) {
      this.#clearGone(entry);
      return;
    }
    if (entry.goneTimer !== null) return;
    entry.goneTimer = this.#clock.setTimeout(() => {
      entry.goneTimer = null;
      if (this.#peers.get(entry.peerId) !== entry) return;
      if (!entry.present && (entry.link === null || entry.link.broken)) {
        this.#remove(entry);
        this.#changed();
      }
    }, this.#options.goneAfterMs ?? 10_000);
  }

  #clearGone(entry: PeerEntry): void {
    if (entry.goneTimer !== null) this.#clock.clearTimeout(entry.goneTimer);
    entry.goneTimer = null;
  }

  #remove(entry: PeerEntry): void {
    this.#clearGone(entry);
    entry.link?.close();
    entry.link = null;
    this.#peers.delete(entry.peerId);
  }

  #dropAll(): void {
    for (const entry of [...this.#peers.values()]) this.#remove(entry);
    this.#changed();
  }

  #changed(): void {
    if (!this.#closed) this.emit('peers', this.peers());
  }
}
