// The per-peer view of a call: one Participant per remote peer (not per track), built from the
// mesh's peer list, the mute state each peer announces over its data channel, and a connection
// quality computed from two consecutive getStats() samples.
import { Emitter } from './emitter.ts';
import type { PeerSummary } from './peer-mesh.ts';
import type { PeerMediaStats } from './peer-stats.ts';

export interface MuteState {
  audio: boolean;
  video: boolean;
}

export type QualityLevel = 'good' | 'fair' | 'poor' | 'unknown';

export interface ConnectionQuality {
  /** Round-trip time of the selected ICE candidate pair (null before there is one). */
  rttMs: number | null;
  /** Share of inbound RTP packets lost since the previous sample, 0–1 (null without traffic). */
  packetLoss: number | null;
  /** Inbound media bitrate since the previous sample, bits per second. */
  bitrateIn: number | null;
  /** Outbound media bitrate since the previous sample, bits per second. */
  bitrateOut: number | null;
  level: QualityLevel;
  /** Epoch ms of the sample. */
  sampledAt: number;
}

/** An immutable snapshot: every change makes a new object (safe as React state). */
export interface Participant {
  readonly id: string;
  readonly name: string;
  /** All of this peer's media in one stream (audio and video tracks), null before the first track. */
  readonly stream: MediaStream | null;
  /** What the peer announced with setMuted (a peer that sends no track of a kind is muted in it). */
  readonly audioMuted: boolean;
  readonly videoMuted: boolean;
  /** Seen on the current media server (false while it may still be failing over). */
  readonly present: boolean;
  readonly connectionState: RTCPeerConnectionState;
  readonly quality: ConnectionQuality | null;
}

export type ParticipantEvents = {
  'participant-joined': (participant: Participant) => void;
  'participant-left': (participant: Participant) => void;
  'participant-updated': (participant: Participant) => void;
};

/** The SDK's own data-channel messages carry this key; the `data` event never sees them. */
export const CONTROL_KEY = '$usher';

export interface MuteMessage {
  [CONTROL_KEY]: 'mute';
  audio: boolean;
  video: boolean;
}

export function muteMessage(state: MuteState): string {
  const message: MuteMessage = { [CONTROL_KEY]: 'mute', audio: state.audio, video: state.video };
  return JSON.stringify(message);
}

/** An SDK control message (null for an app message). */
export function controlMessage(value: unknown): MuteMessage | { [CONTROL_KEY]: string } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const kind = (value as Record<string, unknown>)[CONTROL_KEY];
  if (typeof kind !== 'string') return null;
  const record = value as Record<string, unknown>;
  if (kind === 'mute' && typeof record.audio === 'boolean' && typeof record.video === 'boolean') {
    return { [CONTROL_KEY]: 'mute', audio: record.audio, video: record.video };
  }
  return { [CONTROL_KEY]: kind };
}

/** The counters one quality sample is computed from. */
interface Sample {
  at: number;
  bytesReceived: number;
  bytesSent: number;
  packetsReceived: number;
  packetsLost: number;
}

export function qualityLevel(rttMs: number | null, packetLoss: number | null): QualityLevel {
  if (rttMs === null && packetLoss === null) return 'unknown';
  const rtt = rttMs ?? 0;
  const loss = packetLoss ?? 0;
  if (rtt < 200 && loss < 0.02) return 'good';
  if (rtt < 500 && loss < 0.1) return 'fair';
  return 'poor';
}

export class ParticipantRoster extends Emitter<ParticipantEvents> {
  readonly #participants = new Map<string, Participant>();
  readonly #samples = new Map<string, Sample>();

  list(): Participant[] {
    return [...this.#participants.values()];
  }

  get(id: string): Participant | undefined {
    return this.#participants.get(id);
  }

  /** The mesh's peer list changed: join, leave or update participants to match. */
  fromPeers(peers: readonly PeerSummary[]): void {
    const seen = new Set<string>();
    for (const peer of peers) {
      seen.add(peer.peerId);
      const before = this.#participants.get(peer.peerId);
      if (before === undefined) {
        const joined: Participant = {
          id: peer.peerId,
          name: peer.name,
          stream: peer.stream,
          audioMuted: false,
          videoMuted: false,
          present: peer.present,
          connectionState: peer.connectionState,
          quality: null,
        };
        this.#participants.set(peer.peerId, joined);
        this.emit('participant-joined', joined);
        continue;
      }
      this.#update(before, {
        name: peer.name || before.name,
        stream: peer.stream ?? before.stream,
        present: peer.present,
        connectionState: peer.connectionState,
      });
    }
    for (const [id, participant] of [...this.#participants]) {
      if (seen.has(id)) continue;
      this.#participants.delete(id);
      this.#samples.delete(id);
      this.emit('participant-left', participant);
    }
  }

  setMute(id: string, state: MuteState): void {
    const before = this.#participants.get(id);
    if (before === undefined) return;
    this.#update(before, { audioMuted: state.audio, videoMuted: state.video });
  }

  /** A new getStats() sample per peer: quality from its difference to the previous one. */
  sampled(stats: Readonly<Record<string, PeerMediaStats>>, now: number): void {
    for (const [id, current] of Object.entries(stats)) {
      const before = this.#participants.get(id);
      if (before === undefined) continue;
      const sample: Sample = {
        at: now,
        bytesReceived: current.bytesReceived,
        bytesSent: current.bytesSent,
        packetsReceived: current.packetsReceived,
        packetsLost: current.packetsLost,
      };
      const previous = this.#samples.get(id);
      this.#samples.set(id, sample);
      this.#update(before, { quality: quality(previous, sample, current.rttMs) });
    }
  }

  clear(): void {
    for (const participant of this.#participants.values()) this.emit('participant-left', participant);
    this.#participants.clear();
    this.#samples.clear();
  }

  #update(before: Participant, change: Partial<Omit<Participant, 'id'>>): void {
    const keys = Object.keys(change) as Array<keyof typeof change>;
    if (keys.every((key) => before[key] === change[key])) return;
    const after: Participant = { ...before, ...change };
    this.#participants.set(before.id, after);
    this.emit('participant-updated', after);
  }
}

function quality(previous: Sample | undefined, current: Sample, rttMs: number | null): ConnectionQuality {
  const seconds = previous === undefined ? 0 : (current.at - previous.at) / 1000;
  // Counters that went down belong to a replaced connection: no rate from them.
  const usable =
    previous !== undefined &&
    seconds > 0 &&
    current.bytesReceived >= previous.bytesReceived &&
    current.bytesSent >= previous.bytesSent &&
    current.packetsReceived >= previous.packetsReceived;
  let packetLoss: number | null = null;
  let bitrateIn: number | null = null;
  let bitrateOut: number | null = null;
  if (usable) {
    bitrateIn = Math.round(((current.bytesReceived - previous.bytesReceived) * 8) / seconds);
    bitrateOut = Math.round(((current.bytesSent - previous.bytesSent) * 8) / seconds);
    const received = current.packetsReceived - previous.packetsReceived;
    const lost = Math.max(0, current.packetsLost - previous.packetsLost);
    packetLoss = received + lost === 0 ? null : lost / (received + lost);
  }
  return {
    rttMs,
    packetLoss,
    bitrateIn,
    bitrateOut,
    level: qualityLevel(rttMs, packetLoss),
    sampledAt: current.at,
  };
}
