// Per-peer media figures from getStats(): received bytes and decoded frames (is media
// flowing?), ICE/connection states and the transport's current ICE ufrag (did a restart land?).

export interface PeerMediaStats {
  /** All inbound RTP (audio + video) bytes. */
  bytesReceived: number;
  /** Inbound video frames decoded. */
  framesDecoded: number;
  iceState: string;
  connectionState: string;
  /** The ufrag the ICE transport is actually using (null before it has one). */
  localUfrag: string | null;
}

export const EMPTY_STATS: PeerMediaStats = {
  bytesReceived: 0,
  framesDecoded: 0,
  iceState: 'new',
  connectionState: 'new',
  localUfrag: null,
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
  report.forEach((entry: StatsEntry) => {
    if (entry.type === 'inbound-rtp') {
      out.bytesReceived += numberOr0(entry.bytesReceived);
      if (entry.kind === 'video') out.framesDecoded += numberOr0(entry.framesDecoded);
    } else if (entry.type === 'transport' && typeof entry.iceLocalUsernameFragment === 'string') {
      out.localUfrag = entry.iceLocalUsernameFragment;
    }
  });
  return out;
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
