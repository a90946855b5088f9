// One RTCPeerConnection with one remote peer: offer/answer (one side offers, so no glare),
// queued remote candidates, the pre-negotiated 'usher' data channel, remote tracks, and
// ICE-restart bookkeeping. Negotiation steps run one at a time on a promise chain.
import type { SignalData } from '../../shared/protocol/media.ts';
import type { Clock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { type IceRestartRecord, watchIceRestart } from './ice-restart.ts';
import { dtlsFingerprint, iceUfrag } from './sdp.ts';

export type PeerLinkEvents = {
  track: (stream: MediaStream) => void;
  data: (text: string) => void;
  /** connectionState, iceConnectionState or the data channel changed. */
  state: () => void;
  /** A restart started, or the same record got its completedAt. */
  'ice-restart': (record: IceRestartRecord) => void;
};

export interface PeerLinkOptions {
  peerId: string;
  /** The side with the smaller peer id makes every offer. */
  offerer: boolean;
  config: RTCConfiguration;
  localStream: MediaStream | null;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  /** Send to the remote peer through the current media server; false when there is none. */
  signal: (data: SignalData) => boolean;
  clock: Clock;
}

/** Bound on candidates held before a remote description: a trickle burst is a few dozen. */
const MAX_QUEUED_CANDIDATES = 256;
const MEDIA_KINDS = ['audio', 'video'] as const;

export class PeerLink extends Emitter<PeerLinkEvents> {
  readonly peerId: string;
  readonly offerer: boolean;
  readonly pc: RTCPeerConnection;
  readonly channel: RTCDataChannel;
  readonly #options: PeerLinkOptions;
  readonly #queued: RTCIceCandidateInit[] = [];
  #chain: Promise<void> = Promise.resolve();
  #remoteStream: MediaStream | null = null;
  #localTracksAdded = false;
  /** Signaling epoch (one per media-server connection) of our last offer. */
  #offerEpoch = -1;
  #restartWanted = false;
  #restartGeneration = 0;

  constructor(options: PeerLinkOptions) {
    super();
    this.#options = options;
    this.peerId = options.peerId;
    this.offerer = options.offerer;
    const pc = options.createPeerConnection(options.config);
    this.pc = pc;
    // Negotiated with a fixed id: both sides create it up front, no in-band DATA_CHANNEL_OPEN race.
    this.channel = pc.createDataChannel('usher', { negotiated: true, id: 0 });
    this.channel.onmessage = (event) => {
      if (typeof event.data === 'string') this.emit('data', event.data);
    };
    this.channel.onopen = () => this.emit('state');
    this.channel.onclose = () => this.emit('state');
    pc.onicecandidate = (event) => {
      // The end-of-candidates marker (null) carries nothing the other side needs.
      const c = event.candidate;
      if (c === null) return;
      options.signal({
        candidate: {
          candidate: c.candidate,
          sdpMid: c.sdpMid,
          sdpMLineIndex: c.sdpMLineIndex,
          usernameFragment: c.usernameFragment,
        },
      });
    };
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? this.#remoteStream ?? new MediaStream();
      if (!stream.getTracks().includes(event.track)) stream.addTrack(event.track);
      this.#remoteStream = stream;
      this.emit('track', stream);
    };
    pc.onconnectionstatechange = () => this.emit('state');
    pc.oniceconnectionstatechange = () => this.emit('state');
    if (options.offerer) this.#addLocalMedia(true);
  }

  get remoteStream(): MediaStream | null {
    return this.#remoteStream;
  }

  /** ICE or the connection is failed/closed: media cannot flow without a restart. */
  get broken(): boolean {
    const { connectionState, iceConnectionState } = this.pc;
    return (
      connectionState === 'failed' ||
      connectionState === 'closed' ||
      iceConnectionState === 'failed' ||
      iceConnectionState === 'closed'
    );
  }

  get closed(): boolean {
    return this.pc.signalingState === 'closed';
  }

  /** DTLS fingerprint of the other side's current description (identifies its RTCPeerConnection). */
  get remoteFingerprint(): string | null {
    return dtlsFingerprint(this.pc.remoteDescription?.sdp);
  }

  /** Offerer only: send an offer (with `iceRestart` after a failover) for signaling `epoch`. */
  offer(epoch: number, iceRestart: boolean): Promise<void> {
    return this.#enqueue(() => this.#offer(epoch, iceRestart));
  }

  /** Apply a signal from the remote peer; rejects when its offer cannot be applied. */
  receive(data: SignalData): Promise<void> {
    return this.#enqueue(async () => {
      if ('description' in data) {
        const description = data.description;
        if (description.type === 'offer') await this.#acceptOffer(description.sdp);
        else await this.#acceptAnswer(description.sdp);
      } else if (data.candidate !== null) {
        await this.#addCandidate(data.candidate);
      }
    });
  }

  send(text: string): boolean {
    if (this.channel.readyState !== 'open') return false;
    try {
      this.channel.send(text);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.#restartGeneration += 1;
    this.channel.onmessage = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.close();
    this.emit('state');
    this.removeAllListeners();
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.closed ? undefined : step()));
    // The chain must survive a failed step; the caller still sees the failure through `run`.
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #offer(epoch: number, iceRestart: boolean): Promise<void> {
    const { pc } = this;
    if (pc.signalingState === 'have-local-offer' && this.#offerEpoch === epoch) {
      // An offer sent on this same server is still unanswered: restart right after its answer.
      this.#restartWanted ||= iceRestart;
      return;
    }
    // (An unanswered offer from an earlier, dead server is simply replaced: createOffer and
    // setLocalDescription are both allowed in have-local-offer.)
    const record = iceRestart ? this.#startRestart() : null;
    const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await pc.setLocalDescription(offer);
    this.#offerEpoch = epoch;
    this.#restartWanted = false;
    this.#options.signal({ description: { type: 'offer', sdp: offer.sdp ?? '' } });
    if (record !== null) this.#watchRestart(record);
  }

  async #acceptAnswer(sdp: string): Promise<void> {
    // An answer to an offer we already replaced (or a duplicate) has nothing to apply to.
    if (this.pc.signalingState !== 'have-local-offer') return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.#flushCandidates();
    if (this.#restartWanted) await this.#offer(this.#offerEpoch, true);
  }

  async #acceptOffer(sdp: string): Promise<void> {
    const { pc } = this;
    const previous = iceUfrag(pc.remoteDescription?.sdp);
    const restart = previous !== null && previous !== iceUfrag(sdp);
    const record = restart ? this.#startRestart() : null;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    // After the offer, so addTrack reuses the transceivers it created (no second negotiation).
    if (!this.#localTracksAdded) this.#addLocalMedia(false);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.#options.signal({ description: { type: 'answer', sdp: answer.sdp ?? '' } });
    await this.#flushCandidates();
    if (record !== null) this.#watchRestart(record);
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (this.pc.remoteDescription === null) {
      if (this.#queued.length < MAX_QUEUED_CANDIDATES) this.#queued.push(candidate);
      return;
    }
    await this.pc.addIceCandidate(candidate).catch(() => {
      // A candidate of a replaced ICE generation is refused; the current ones are what matter.
    });
  }

  async #flushCandidates(): Promise<void> {
    const queued = this.#queued.splice(0);
    for (const candidate of queued) await this.#addCandidate(candidate);
  }

  /** Send our tracks; an offerer also asks to receive the kinds it has no track of. */
  #addLocalMedia(offerer: boolean): void {
    this.#localTracksAdded = true;
    const stream = this.#options.localStream;
    for (const kind of MEDIA_KINDS) {
      const tracks = stream?.getTracks().filter((track) => track.kind === kind) ?? [];
      for (const track of tracks) this.pc.addTrack(track, stream!);
      if (tracks.length === 0 && offerer) this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
  }

  #startRestart(): IceRestartRecord {
    this.#restartGeneration += 1;
    const record: IceRestartRecord = {
      peerId: this.peerId,
      startedAt: this.#options.clock.now(),
      completedAt: null,
    };
    this.emit('ice-restart', record);
    return record;
  }

  #watchRestart(record: IceRestartRecord): void {
    const generation = this.#restartGeneration;
    void watchIceRestart(this.pc, this.#options.clock, {
      stillWanted: () => generation === this.#restartGeneration,
    }).then((completedAt) => {
      if (completedAt === null) return;
      record.completedAt = completedAt;
      this.emit('ice-restart', record);
    });
  }
}
