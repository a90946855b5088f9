// Per-peer figures the call view shows: who is speaking (a WebAudio analyser on each audio
// stream) and each peer connection's quality from getStats (RTT, packet loss, received bitrate).

export type QualityLevel = 'good' | 'fair' | 'poor' | 'unknown';

export interface PeerQuality {
  level: QualityLevel;
  rttMs: number | null;
  /** Share of packets lost since the previous sample, 0..1. */
  loss: number | null;
  /** Received kbit/s since the previous sample. */
  kbps: number | null;
}

export const UNKNOWN_QUALITY: PeerQuality = { level: 'unknown', rttMs: null, loss: null, kbps: null };

/** Thresholds of a usable call, after the common VoIP rules of thumb (ITU-T G.114 one-way delay,
 *  a few percent loss before audio breaks up). */
export function qualityLevel(rttMs: number | null, loss: number | null): QualityLevel {
  if (rttMs === null && loss === null) return 'unknown';
  if ((rttMs ?? 0) > 400 || (loss ?? 0) > 0.1) return 'poor';
  if ((rttMs ?? 0) > 150 || (loss ?? 0) > 0.02) return 'fair';
  return 'good';
}

export function qualityText(q: PeerQuality): string {
  const words = {
    good: 'Good connection',
    fair: 'Fair connection',
    poor: 'Poor connection',
    unknown: 'Connection quality not known yet',
  };
  const parts = [
    q.rttMs === null ? null : `${Math.round(q.rttMs)} ms delay`,
    q.loss === null ? null : `${(q.loss * 100).toFixed(1)} % lost`,
    q.kbps === null ? null : `${Math.round(q.kbps)} kbit/s`,
  ].filter((p) => p !== null);
  return parts.length === 0 ? words[q.level] : `${words[q.level]}: ${parts.join(', ')}`;
}

interface Counters {
  at: number;
  bytes: number;
  lost: number;
  received: number;
}

type StatsEntry = Record<string, unknown> & { type?: string };
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Samples one RTCPeerConnection; keeps the last counters to turn totals into rates. */
export class QualitySampler {
  #last: Counters | null = null;

  async sample(pc: RTCPeerConnection): Promise<PeerQuality> {
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return UNKNOWN_QUALITY;
    }
    let pairId: string | null = null;
    const now: Counters = { at: Date.now(), bytes: 0, lost: 0, received: 0 };
    report.forEach((entry: StatsEntry) => {
      if (entry.type === 'transport' && typeof entry.selectedCandidatePairId === 'string')
        pairId = entry.selectedCandidatePairId;
      if (entry.type === 'inbound-rtp') {
        now.bytes += num(entry.bytesReceived);
        now.lost += Math.max(0, num(entry.packetsLost));
        now.received += num(entry.packetsReceived);
      }
    });
    const pair = pairId === null ? undefined : (report.get(pairId) as StatsEntry | undefined);
    const rtt =
      pair !== undefined && typeof pair.currentRoundTripTime === 'number'
        ? pair.currentRoundTripTime * 1000
        : null;
    const last = this.#last;
    this.#last = now;
    let loss: number | null = null;
    let kbps: number | null = null;
    if (last !== null && now.at > last.at) {
      const packets = now.received - last.received + (now.lost - last.lost);
      loss = packets > 0 ? (now.lost - last.lost) / packets : 0;
      kbps = ((now.bytes - last.bytes) * 8) / (now.at - last.at);
    }
    return { level: qualityLevel(rtt, loss), rttMs: rtt, loss, kbps };
  }
}

/** Speaking detection: RMS of the last analyser window over a threshold that ignores room hiss. */
export class SpeakingMeter {
  static readonly THRESHOLD = 0.02;
  readonly #ctx: AudioContext;
  readonly #meters = new Map<
    string,
    { source: AudioNode | null; analyser: AnalyserNode; stream: MediaStream | null }
  >();
  readonly #buffer = new Float32Array(1024);

  constructor(ctx: AudioContext) {
    this.#ctx = ctx;
  }

  /** Listen to `node` (our own mic after mute) under `id`. */
  watchNode(id: string, node: AudioNode): void {
    if (this.#meters.has(id)) return;
    const analyser = this.#analyser();
    node.connect(analyser);
    this.#meters.set(id, { source: null, analyser, stream: null });
  }

  /** Listen to a remote stream's audio; a new stream for the same id replaces the old. */
  watchStream(id: string, stream: MediaStream | null): void {
    const current = this.#meters.get(id);
    if (current !== undefined && current.stream === stream) return;
    this.unwatch(id);
    if (stream === null || stream.getAudioTracks().length === 0) return;
    const analyser = this.#analyser();
    const source = this.#ctx.createMediaStreamSource(stream);
    source.connect(analyser);
    this.#meters.set(id, { source, analyser, stream });
  }

  unwatch(id: string): void {
    const meter = this.#meters.get(id);
    if (meter === undefined) return;
    meter.source?.disconnect();
    meter.analyser.disconnect();
    this.#meters.delete(id);
  }

  ids(): string[] {
    return [...this.#meters.keys()];
  }

  speaking(id: string): boolean {
    const meter = this.#meters.get(id);
    if (meter === undefined) return false;
    meter.analyser.getFloatTimeDomainData(this.#buffer);
    let sum = 0;
    for (const v of this.#buffer) sum += v * v;
    return Math.sqrt(sum / this.#buffer.length) > SpeakingMeter.THRESHOLD;
  }

  #analyser(): AnalyserNode {
    const analyser = this.#ctx.createAnalyser();
    analyser.fftSize = this.#buffer.length;
    return analyser;
  }
}
