// Per-peer media figures from getStats(): received bytes and decoded frames (is media
// flowing?), ICE/connection states, the transport's current ICE ufrag (did a restart land?)
// and the selected candidate pair (direct or through TURN?).

export interface PeerMediaStats {
  /** All inbound RTP (audio + video) bytes. */
  bytesReceived: number;
  /** Inbound video frames decoded. */
  framesDecoded: number;
  /** All inbound RTP packets received and reported lost (for a loss rate between two samples). */
  packetsReceived: number;
  packetsLost: number;
  /** All outbound RTP bytes. */
  bytesSent: number;
  /** The selected candidate pair's current round-trip time (null before there is one). */
  rttMs: number | null;
  iceState: string;
  connectionState: string;
  /** The ufrag the ICE transport is actually using (null before it has one). */
  localUfrag: string | null;
  /** The candidate pair ICE selected (null before there is one). */
  selectedPair: SelectedCandidatePair | null;
}

/** One side of a candidate pair, from its `local-candidate`/`remote-candidate` stat. */
export interface CandidateSummary {
  /** 'host' | 'srflx' | 'prflx' | 'relay'. */
  type: string;
  address: string | null;
  port: number | null;
  /** Transport to the other side: 'udp' | 'tcp'. */
  protocol: string | null;
}

export interface SelectedCandidatePair {
  local: CandidateSummary;
  remote: CandidateSummary;
}

export const EMPTY_STATS: PeerMediaStats = {
  bytesReceived: 0,
  framesDecoded: 0,
  packetsReceived: 0,
  packetsLost: 0,
  bytesSent: 0,
  rttMs: null,
  iceState: 'new',
  connectionState: 'new',
  localUfrag: null,
  selectedPair: null,
};

type StatsEntry = { type?: unknown } & Record<string, unknown>;

export async function collectPeerStats(pc: RTCPeerConnection | null): Promise<PeerMediaStats> {
  if (pc === null) return { ...EMPTY_STATS };
  const out: PeerMediaStats = {
    ...EMPTY_STATS,
    iceState: pc.iceConnectionState,
    connectionState: pc.connectionState,
  };
  if (pc.connectionState === 'closed') return out;
  let report: RTCStatsReport;
  try {
    report = await pc.getStats();
  } catch {
    return out;
  }
  // (An object, not a `let`: TypeScript does not see assignments made inside the callback.)
  const selected: { pairId: string | null } = { pairId: null };
  report.forEach((entry: StatsEntry) => {
    if (entry.type === 'inbound-rtp') {
      out.bytesReceived += numberOr0(entry.bytesReceived);
      if (entry.kind === 'video') out.framesDecoded += numberOr0(entry.framesDecoded);
      out.packetsReceived += numberOr0(entry.packetsReceived);
      out.packetsLost += numberOr0(entry.packetsLost);
    } else if (entry.type === 'outbound-rtp') {
      out.bytesSent += numberOr0(entry.bytesSent);
    } else if (entry.type === 'transport') {
      if (typeof entry.iceLocalUsernameFragment === 'string') out.localUfrag = entry.iceLocalUsernameFragment;
      if (typeof entry.selectedCandidatePairId === 'string') selected.pairId = entry.selectedCandidatePairId;
    } else if (entry.type === 'candidate-pair' && entry.selected === true && selected.pairId === null) {
      // Firefox has no transport stat; it flags the pair instead.
      selected.pairId = String(entry.id);
    }
  });
  out.selectedPair = selected.pairId === null ? null : selectedPair(report, selected.pairId);
  if (selected.pairId !== null) {
    const rtt = (report.get(selected.pairId) as StatsEntry | undefined)?.currentRoundTripTime;
    if (typeof rtt === 'number' && Number.isFinite(rtt)) out.rttMs = Math.round(rtt * 1000);
  }
  return out;
}

function selectedPair(report: RTCStatsReport, pairId: string): SelectedCandidatePair | null {
  const pair = report.get(pairId) as StatsEntry | undefined;
  if (pair === undefined) return null;
  const local = candidate(report, pair.localCandidateId);
  const remote = candidate(report, pair.remoteCandidateId);
  return local === null || remote === null ? null : { local, remote };
}

function candidate(report: RTCStatsReport, id: unknown): CandidateSummary | null {
  const entry = typeof id === 'string' ? (report.get(id) as StatsEntry | undefined) : undefined;
  if (entry === undefined || typeof entry.candidateType !== 'string') return null;
  return {
    type: entry.candidateType,
    address: typeof entry.address === 'string' ? entry.address : null,
    port: typeof entry.port === 'number' ? entry.port : null,
    protocol: typeof entry.protocol === 'string' ? entry.protocol : null,
  };
}

/** The ufrag the transport is using, straight from getStats (null when none or on error). */
export async function transportUfrag(pc: RTCPeerConnection): Promise<string | null> {
  let ufrag: string | null = null;
  try {
    const report = await pc.getStats();
    report.forEach((entry: StatsEntry) => {
      if (entry.type === 'transport' && typeof entry.iceLocalUsernameFragment === 'string') {
        ufrag = entry.iceLocalUsernameFragment;
      }
    });
  } catch {
    return null;
  }
  return ufrag;
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
