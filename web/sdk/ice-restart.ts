// Knowing when an ICE restart has finished. Over a working path iceConnectionState never
// leaves 'connected' during a restart, so state events cannot tell: poll getStats until the
// transport uses the ufrag of the current local description and negotiation is stable.
import { type Clock, sleep } from './clock.ts';
import { transportUfrag } from './peer-stats.ts';
import { iceUfrag } from './sdp.ts';

export interface IceRestartRecord {
  peerId: string;
  /** Epoch ms when the restart offer was made (offerer) or received (answerer). */
  startedAt: number;
  /** Epoch ms when the transport was seen on the new credentials; null while not (yet). */
  completedAt: number | null;
}

export async function iceRestartDone(pc: RTCPeerConnection): Promise<boolean> {
  if (pc.signalingState !== 'stable') return false;
  const wanted = iceUfrag(pc.localDescription?.sdp);
  if (wanted === null) return false;
  return (await transportUfrag(pc)) === wanted;
}

export interface WatchOptions {
  pollMs?: number;
  timeoutMs?: number;
  /** False once a newer restart superseded this one or the connection closed. */
  stillWanted(): boolean;
}

/** Resolves with the epoch ms the restart was seen complete, or null on timeout/superseded. */
export async function watchIceRestart(
  pc: RTCPeerConnection,
  clock: Clock,
  options: WatchOptions,
): Promise<number | null> {
  const pollMs = options.pollMs ?? 50;
  const deadline = clock.now() + (options.timeoutMs ?? 30_000);
  while (clock.now() < deadline) {
    if (!options.stillWanted() || pc.signalingState === 'closed') return null;
    if (await iceRestartDone(pc)) return clock.now();
    await sleep(clock, pollMs);
  }
  return null;
}
