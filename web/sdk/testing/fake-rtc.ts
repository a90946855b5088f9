// Test support: a scripted stand-in for RTCPeerConnection, enough for the mesh's signaling
// logic: the offer/answer state machine, ICE ufrags and DTLS fingerprints in SDP, candidates,
// and a transport whose ufrag follows the local description once negotiation is stable.

export interface FakeRtc {
  create(config: RTCConfiguration): RTCPeerConnection;
  /** Every connection created, in order. */
  readonly all: FakePeerConnection[];
}

export function fakeRtc(name: string): FakeRtc {
  const all: FakePeerConnection[] = [];
  return {
    all,
    create(config) {
      const pc = new FakePeerConnection(`${name}${all.length + 1}`, config);
      all.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
  };
}

type Description = { type: 'offer' | 'answer'; sdp: string };

class FakeChannel {
  readyState: RTCDataChannelState = 'connecting';
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  readonly sent: string[] = [];
  constructor(
    readonly label: string,
    readonly init: RTCDataChannelInit,
  ) {}
  send(text: string): void {
    this.sent.push(text);
  }
}

export class FakePeerConnection {
  signalingState: RTCSignalingState = 'stable';
  connectionState: RTCPeerConnectionState = 'new';
  iceConnectionState: RTCIceConnectionState = 'new';
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  /** What getStats reports as the transport's iceLocalUsernameFragment. */
  transportUfrag: string | null = null;
  readonly offers: Array<RTCOfferOptions | undefined> = [];
  readonly candidates: RTCIceCandidateInit[] = [];
  readonly channels: FakeChannel[] = [];
  readonly transceivers: string[] = [];
  onicecandidate: ((event: { candidate: unknown }) => void) | null = null;
  ontrack: ((event: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  #ufrag: string | null = null;
  #generation = 0;

  constructor(
    readonly name: string,
    public config: RTCConfiguration,
  ) {}

  get fingerprint(): string {
    return `sha-256 ${this.name}`;
  }

  createDataChannel(label: string, init: RTCDataChannelInit): FakeChannel {
    const channel = new FakeChannel(label, init);
    this.channels.push(channel);
    return channel;
  }

  addTransceiver(kind: string, init: RTCRtpTransceiverInit): void {
    this.transceivers.push(`${kind}:${init.direction}`);
  }

  addTrack(): void {}

  getConfiguration(): RTCConfiguration {
    return this.config;
  }

  setConfiguration(config: RTCConfiguration): void {
    this.config = config;
  }

  async createOffer(options?: RTCOfferOptions): Promise<Description> {
    this.#assertOpen();
    this.offers.push(options);
    if (this.#ufrag === null || options?.iceRestart) this.#ufrag = this.#newUfrag();
    return { type: 'offer', sdp: this.#sdp() };
  }

  async createAnswer(): Promise<Description> {
    this.#assertOpen();
    if (this.signalingState !== 'have-remote-offer') throw new Error('InvalidStateError: no remote offer');
    const remote = ufragOf(this.remoteDescription!.sdp);
    // A remote ICE restart makes us pick new credentials too.
    if (this.#ufrag === null || remote !== this.#answeredUfrag) this.#ufrag = this.#newUfrag();
    this.#answeredUfrag = remote;
    return { type: 'answer', sdp: this.#sdp() };
  }

  #answeredUfrag: string | null = null;

  async setLocalDescription(description: Description): Promise<void> {
    this.#assertOpen();
    if (description.type === 'offer') {
      if (this.signalingState === 'have-remote-offer') throw new Error('InvalidStateError: glare');
      this.signalingState = 'have-local-offer';
    } else {
      if (this.signalingState !== 'have-remote-offer') throw new Error('InvalidStateError: answer');
      this.signalingState = 'stable';
    }
    this.localDescription = description;
    this.#settle();
    // Like a browser: gathering starts now; candidates are events after the call returned.
    const ufrag = this.#ufrag;
    setImmediate(() => {
      if (this.signalingState === 'closed') return;
      this.onicecandidate?.({
        candidate: {
          candidate: `candidate:${ufrag}`,
          sdpMid: '0',
          sdpMLineIndex: 0,
          usernameFragment: ufrag,
        },
      });
    });
  }

  async setRemoteDescription(description: Description): Promise<void> {
    this.#assertOpen();
    if (description.type === 'offer') {
      if (this.signalingState === 'have-local-offer') throw new Error('InvalidStateError: glare');
      const before = this.remoteDescription === null ? null : fingerprintOf(this.remoteDescription.sdp);
      if (before !== null && before !== fingerprintOf(description.sdp)) {
        throw new Error('InvalidAccessError: fingerprint changed');
      }
      this.signalingState = 'have-remote-offer';
    } else {
      if (this.signalingState !== 'have-local-offer') throw new Error('InvalidStateError: no local offer');
      this.signalingState = 'stable';
    }
    this.remoteDescription = description;
    this.#settle();
  }

  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (this.remoteDescription === null) throw new Error('InvalidStateError: no remote description');
    this.candidates.push(candidate);
  }

  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    // Relay-only policy ⇒ both ends of the selected pair are relay candidates, as in a browser.
    const candidateType = this.config.iceTransportPolicy === 'relay' ? 'relay' : 'host';
    const candidate = (type: string, port: number): Record<string, unknown> => ({
      type,
      candidateType,
      address: '127.0.0.1',
      port,
      protocol: 'udp',
    });
    return new Map([
      [
        'T01',
        {
          type: 'transport',
          iceLocalUsernameFragment: this.transportUfrag,
          selectedCandidatePairId: this.transportUfrag === null ? undefined : 'CP1',
        },
      ],
      [
        'CP1',
        {
          type: 'candidate-pair',
          localCandidateId: 'CL1',
          remoteCandidateId: 'CR1',
          currentRoundTripTime: 0.012,
        },
      ],
      ['CL1', candidate('local-candidate', 50001)],
      ['CR1', candidate('remote-candidate', 50002)],
      [
        'IV',
        {
          type: 'inbound-rtp',
          kind: 'video',
          bytesReceived: 1000,
          framesDecoded: 30,
          packetsReceived: 90,
          packetsLost: 2,
        },
      ],
      ['IA', { type: 'inbound-rtp', kind: 'audio', bytesReceived: 200, packetsReceived: 50 }],
      ['OV', { type: 'outbound-rtp', kind: 'video', bytesSent: 800 }],
    ]);
  }

  close(): void {
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    this.iceConnectionState = 'closed';
  }

  /** Simulate ICE: set both states and fire the handlers. */
  setIce(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    this.connectionState = state === 'checking' ? 'connecting' : (state as RTCPeerConnectionState);
    this.oniceconnectionstatechange?.();
    this.onconnectionstatechange?.();
  }

  /** Once stable, the transport moves onto the current credentials and the call is up. */
  #settle(): void {
    if (this.signalingState !== 'stable' || this.remoteDescription === null) return;
    this.transportUfrag = this.#ufrag;
    if (this.iceConnectionState === 'new') this.setIce('connected');
    for (const channel of this.channels) {
      if (channel.readyState !== 'open') {
        channel.readyState = 'open';
        channel.onopen?.();
      }
    }
  }

  #newUfrag(): string {
    this.#generation += 1;
    return `${this.name}u${this.#generation}`;
  }

  #sdp(): string {
    return `v=0\r\na=ice-ufrag:${this.#ufrag}\r\na=fingerprint:${this.fingerprint}\r\n`;
  }

  #assertOpen(): void {
    if (this.signalingState === 'closed') throw new Error('InvalidStateError: closed');
  }
}

function ufragOf(sdp: string): string | null {
  return /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? null;
}

function fingerprintOf(sdp: string): string | null {
  return /a=fingerprint:(.+?)\r?$/m.exec(sdp)?.[1] ?? null;
}
