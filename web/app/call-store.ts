// The app's one piece of state: the current UsherSession, the local media, and what the UI
// shows of them, as immutable snapshots for React's useSyncExternalStore. App messages (chat,
// each person's mic/camera state) travel over the session's data channels.
import {
  type FailoverRecord,
  type PeerSummary,
  type SessionState,
  UsherClientError,
  UsherSession,
  type UsherSessionOptions,
} from '../sdk/index.ts';
import { type PeerQuality, QualitySampler, SpeakingMeter, UNKNOWN_QUALITY } from './call-metrics.ts';
import { errorText, retryReason } from './format.ts';
import { type DeviceChoice, LocalMedia, type LocalMediaState } from './local-media.ts';

export interface ChatLine {
  id: number;
  /** Peer id of the sender; null for our own lines. */
  from: string | null;
  name: string;
  text: string;
  at: number;
}

export type Banner =
  | { kind: 'reconnecting'; reason: string }
  | { kind: 'moved'; record: FailoverRecord }
  | null;

/** Waiting before the next attempt to reach a server. */
export interface Waiting {
  /** Epoch ms of the next attempt. */
  until: number;
  /** Why, in words, when it helps. */
  reason: string | null;
}

/** What a peer told us about its media (app message); null fields until it did. */
export interface PeerMediaState {
  mic: boolean;
  camera: boolean;
  sharing: boolean;
  music: string | null;
}

export interface PeerView extends PeerSummary {
  media: PeerMediaState | null;
  speaking: boolean;
  quality: PeerQuality;
}

export type Phase = 'prejoin' | 'joining' | 'call' | 'ended';

export interface CallSnapshot {
  phase: Phase;
  state: SessionState;
  /** Canonical room id (what the broker sees) and the name as the person typed it. */
  room: string;
  roomName: string;
  name: string;
  peerId: string | null;
  serverId: string | null;
  serverUrl: string | null;
  address: string | null;
  rttMs: number | null;
  peers: PeerView[];
  media: LocalMediaState | null;
  selfSpeaking: boolean;
  /** Why the call ended or could not start, as a sentence, with its code. */
  error: { code: string; text: string } | null;
  banner: Banner;
  waiting: Waiting | null;
  chat: ChatLine[];
}

interface ChatMessage {
  kind: 'chat';
  name: string;
  text: string;
}

interface StateMessage extends PeerMediaState {
  kind: 'state';
}

const MAX_CHAT_LINES = 200;
export const MAX_CHAT_CHARS = 2000;
const MAX_MUSIC_NAME = 200;
/** A moved banner stays this long, then goes by itself. */
export const BANNER_DISMISS_MS = 8000;
/** Our media state is repeated this often, so a peer that (re)connects learns it soon. */
const STATE_EVERY_MS = 2000;
const SPEAKING_EVERY_MS = 250;
const QUALITY_EVERY_MS = 2000;

function isChat(value: unknown): value is ChatMessage {
  const v = value as Partial<ChatMessage> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'chat' &&
    typeof v.text === 'string' &&
    v.text.length <= MAX_CHAT_CHARS &&
    typeof v.name === 'string' &&
    v.name.length <= 64
  );
}

function isState(value: unknown): value is StateMessage {
  const v = value as Partial<StateMessage> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'state' &&
    typeof v.mic === 'boolean' &&
    typeof v.camera === 'boolean' &&
    typeof v.sharing === 'boolean' &&
    (v.music === null || (typeof v.music === 'string' && v.music.length <= MAX_MUSIC_NAME))
  );
}

const INITIAL: CallSnapshot = {
  phase: 'prejoin',
  state: 'idle',
  room: '',
  roomName: '',
  name: '',
  peerId: null,
  serverId: null,
  serverUrl: null,
  address: null,
  rttMs: null,
  peers: [],
  media: null,
  selfSpeaking: false,
  error: null,
  banner: null,
  waiting: null,
  chat: [],
};

export interface CallStoreOptions {
  /** Given to every peer connection of every session (`?relay=1` ⇒ 'relay'). */
  iceTransportPolicy?: RTCIceTransportPolicy | undefined;
}

export class CallStore {
  readonly brokerUrl: string;
  readonly #options: CallStoreOptions;
  readonly #listeners = new Set<() => void>();
  readonly #received: string[] = [];
  readonly #pcs = new Set<RTCPeerConnection>();
  readonly #samplers = new WeakMap<RTCPeerConnection, QualitySampler>();
  readonly #peerMedia = new Map<string, PeerMediaState>();
  readonly #quality = new Map<string, PeerQuality>();
  #speaking = new Set<string>();
  #snapshot: CallSnapshot = INITIAL;
  #session: UsherSession | null = null;
  #media: LocalMedia | null = null;
  #meter: SpeakingMeter | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #bannerTimer: ReturnType<typeof setTimeout> | null = null;
  #chatId = 0;
  #token: string | null = null;

  constructor(brokerUrl: string, options: CallStoreOptions = {}) {
    this.brokerUrl = brokerUrl;
    this.#options = options;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): CallSnapshot => this.#snapshot;

  get session(): UsherSession | null {
    return this.#session;
  }

  get media(): LocalMedia | null {
    return this.#media;
  }

  /** Chat texts received from peers, oldest first. */
  received(): string[] {
    return [...this.#received];
  }

  /** Opens (or re-points) the local preview with these devices. */
  async preview(choice: DeviceChoice): Promise<LocalMedia> {
    const media = this.#ensureMedia();
    await media.apply(choice);
    return media;
  }

  /** Joins `room` (canonical id; `roomName` as typed). Keeps the chat when it is the same room. */
  async join(room: string, roomName: string, name: string, choice: DeviceChoice | null): Promise<void> {
    if (this.#snapshot.phase === 'joining' || this.#snapshot.phase === 'call') return;
    const sameRoom = room === this.#snapshot.room;
    this.#update({
      ...INITIAL,
      phase: 'joining',
      state: 'requesting',
      room,
      roomName,
      name,
      chat: sameRoom ? this.#snapshot.chat : [],
      media: this.#snapshot.media,
    });
    const media = this.#ensureMedia();
    media.resume();
    if (choice !== null) await media.apply(choice);
    try {
      await this.#startSession(room, name, media);
      this.#update({ phase: 'call', waiting: null });
      this.#startLoops(media);
    } catch (error) {
      const failure = UsherClientError.from(error);
      if (failure.code !== 'ABORTED') this.#fail(failure);
    }
  }

  /**
   * The one place a session starts. The join token comes from the local stack's dev endpoint
   * when there is one; a real deployment's page gets it from its own backend instead.
   */
  async #startSession(room: string, name: string, media: LocalMedia): Promise<void> {
    const options: UsherSessionOptions = {
      brokerUrl: this.brokerUrl,
      room,
      localStream: media.stream,
      createPeerConnection: (config) => {
        const pc = new RTCPeerConnection(config);
        this.#pcs.add(pc);
        return pc;
      },
    };
    if (name !== '') options.name = name;
    const token = this.#token ?? (await fetchDevToken(this.brokerUrl, room, name));
    if (token !== null) options.token = token;
    if (this.#options.iceTransportPolicy !== undefined)
      options.iceTransportPolicy = this.#options.iceTransportPolicy;
    const session = new UsherSession(options);
    this.#session = session;
    this.#wire(session);
    await session.join();
  }

  /** A join token from the embedding page (its backend minted it): used instead of the dev endpoint. */
  setToken(token: string | null): void {
    this.#token = token;
  }

  /** Stops trying (while waiting for a server) or leaves the call; back to the pre-join page. */
  leave(): void {
    const session = this.#session;
    this.#session = null;
    session?.leave();
    this.#stopLoops();
    this.#media?.close();
    this.#media = null;
    this.#meter = null;
    const { room, roomName, name } = this.#snapshot;
    this.#update({ ...INITIAL, room, roomName, name });
  }

  /** After an error: back to the pre-join page (which opens its preview again). */
  dismissError(): void {
    this.#update({ phase: 'prejoin', error: null });
  }

  sendChat(text: string): void {
    const trimmed = text.slice(0, MAX_CHAT_CHARS);
    if (trimmed === '' || this.#session === null) return;
    const name = (this.#snapshot.name || 'Guest').slice(0, 64);
    const message: ChatMessage = { kind: 'chat', name, text: trimmed };
    this.#session.sendData(message);
    this.#addChat({ from: null, name, text: trimmed });
  }

  dismissBanner(): void {
    this.#setBanner(null);
  }

  // Local media controls: each also tells the peers.
  setMicOn(on: boolean): void {
    this.#media?.setMicOn(on);
  }

  async setCamera(deviceId: string | null): Promise<void> {
    await this.#media?.openCamera(deviceId);
  }

  async setMic(deviceId: string | null): Promise<void> {
    await this.#media?.openMic(deviceId);
  }

  async toggleScreenShare(): Promise<void> {
    const media = this.#media;
    if (media === null) return;
    if (media.state.sharing) await media.stopScreenShare();
    else await media.startScreenShare();
  }

  async playMusic(file: File): Promise<void> {
    await this.#media?.playMusic(file);
  }

  stopMusic(): void {
    this.#media?.stopMusic();
  }

  #ensureMedia(): LocalMedia {
    if (this.#media === null) {
      this.#media = new LocalMedia(
        () => this.#livePcs(),
        () => this.#onMediaChange(),
      );
      this.#meter = new SpeakingMeter(this.#media.audio);
      this.#meter.watchNode('self', this.#media.micLevel);
    }
    return this.#media;
  }

  #onMediaChange(): void {
    const media = this.#media;
    if (media === null) return;
    this.#update({ media: media.state });
    this.#sendState();
  }

  #sendState(): void {
    const state = this.#media?.state;
    if (this.#session === null || state === undefined) return;
    const message: StateMessage = {
      kind: 'state',
      mic: state.micOn,
      camera: state.cameraOn,
      sharing: state.sharing,
      music: state.music === null ? null : state.music.slice(0, MAX_MUSIC_NAME),
    };
    this.#session.sendData(message);
  }

  #livePcs(): RTCPeerConnection[] {
    for (const pc of this.#pcs) if (pc.signalingState === 'closed') this.#pcs.delete(pc);
    return [...this.#pcs];
  }

  /** The peer connection carrying this peer's stream (receivers' tracks are the stream's). */
  #pcOf(peer: PeerSummary): RTCPeerConnection | null {
    const tracks = peer.stream?.getTracks() ?? [];
    if (tracks.length === 0) return null;
    for (const pc of this.#livePcs()) {
      if (pc.getReceivers().some((receiver) => tracks.includes(receiver.track))) return pc;
    }
    return null;
  }

  #startLoops(media: LocalMedia): void {
    this.#stopLoops();
    this.#sendState();
    this.#timers.push(setInterval(() => this.#sendState(), STATE_EVERY_MS));
    this.#timers.push(
      setInterval(() => {
        const meter = this.#meter;
        if (meter === null) return;
        const now = new Set(meter.ids().filter((id) => meter.speaking(id)));
        if (media.state.micOn === false) now.delete('self');
        if (now.size === this.#speaking.size && [...now].every((id) => this.#speaking.has(id))) return;
        this.#speaking = now;
        this.#refreshPeers();
      }, SPEAKING_EVERY_MS),
    );
    this.#timers.push(setInterval(() => void this.#sampleQuality(), QUALITY_EVERY_MS));
  }

  #stopLoops(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    if (this.#bannerTimer !== null) clearTimeout(this.#bannerTimer);
    this.#bannerTimer = null;
  }

  async #sampleQuality(): Promise<void> {
    const session = this.#session;
    if (session === null) return;
    await Promise.all(
      session.peers().map(async (peer) => {
        const pc = this.#pcOf(peer);
        if (pc === null) {
          this.#quality.set(peer.peerId, UNKNOWN_QUALITY);
          return;
        }
        let sampler = this.#samplers.get(pc);
        if (sampler === undefined) {
          sampler = new QualitySampler();
          this.#samplers.set(pc, sampler);
        }
        this.#quality.set(peer.peerId, await sampler.sample(pc));
      }),
    );
    this.#refreshPeers();
  }

  #refreshPeers(peers: PeerSummary[] | null = null): void {
    const summaries = peers ?? this.#session?.peers() ?? [];
    for (const peer of summaries) this.#meter?.watchStream(peer.peerId, peer.stream);
    const ids = new Set(summaries.map((peer) => peer.peerId));
    for (const id of this.#meter?.ids() ?? []) if (id !== 'self' && !ids.has(id)) this.#meter?.unwatch(id);
    this.#update({
      selfSpeaking: this.#speaking.has('self'),
      peers: summaries.map((peer) => ({
        ...peer,
        media: this.#peerMedia.get(peer.peerId) ?? null,
        speaking: this.#speaking.has(peer.peerId),
        quality: this.#quality.get(peer.peerId) ?? UNKNOWN_QUALITY,
      })),
    });
  }

  #wire(session: UsherSession): void {
    const current = (): boolean => this.#session === session;
    session.on('state', (state) => {
      if (!current()) return;
      this.#update({
        state,
        serverId: session.serverId,
        serverUrl: session.serverUrl,
        peerId: session.peerId,
        address: session.clientAddress?.address ?? null,
        rttMs: state === 'joined' ? this.#snapshot.rttMs : null,
        waiting: state === 'joined' ? null : this.#snapshot.waiting,
      });
    });
    session.on('joined', (info) => {
      if (current())
        this.#update({ serverId: info.serverId, serverUrl: info.serverUrl, address: info.client.address });
    });
    session.on('rtt', (ms) => {
      if (current()) this.#update({ rttMs: ms });
    });
    session.on('peers', (peers) => {
      if (current()) this.#refreshPeers(peers);
    });
    session.on('retrying', (event) => {
      if (current())
        this.#update({ waiting: { until: Date.now() + event.delayMs, reason: retryReason(event) } });
    });
    session.on('failover-start', (event) => {
      if (current()) this.#setBanner({ kind: 'reconnecting', reason: event.reason });
    });
    session.on('failover', (record) => {
      if (!current()) return;
      this.#update({ waiting: null });
      this.#setBanner({ kind: 'moved', record });
      this.#sendState();
    });
    session.on('data', (peerId, value) => {
      if (!current()) return;
      if (isChat(value)) {
        this.#received.push(value.text);
        this.#addChat({ from: peerId, name: value.name || 'Guest', text: value.text });
      } else if (isState(value)) {
        const { mic, camera, sharing, music } = value;
        this.#peerMedia.set(peerId, { mic, camera, sharing, music });
        this.#refreshPeers();
      }
    });
    session.on('warning', (warning) => console.debug('[usher] warning', warning.code, warning.message));
    session.on('error', (error) => {
      if (current()) this.#fail(error);
    });
  }

  #setBanner(banner: Banner): void {
    if (this.#bannerTimer !== null) clearTimeout(this.#bannerTimer);
    this.#bannerTimer = null;
    if (banner?.kind === 'moved')
      this.#bannerTimer = setTimeout(() => this.#setBanner(null), BANNER_DISMISS_MS);
    this.#update({ banner });
  }

  #fail(error: UsherClientError): void {
    this.#session = null;
    this.#stopLoops();
    // Camera and mic off while not in a call; Retry opens them again with the same choice.
    this.#media?.close();
    this.#media = null;
    this.#meter = null;
    this.#update({
      phase: 'ended',
      media: null,
      state: 'closed',
      banner: null,
      waiting: null,
      peers: [],
      error: { code: error.code, text: errorText(error.code, error.code) },
    });
  }

  #addChat(line: Omit<ChatLine, 'id' | 'at'>): void {
    this.#chatId += 1;
    const chat = [...this.#snapshot.chat, { ...line, id: this.#chatId, at: Date.now() }];
    this.#update({ chat: chat.slice(-MAX_CHAT_LINES) });
  }

  #update(patch: Partial<CallSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...patch };
    for (const listener of [...this.#listeners]) listener();
  }
}

/**
 * The local stack's broker signs join tokens for anyone at `POST /dev/token` (`usher stack`
 * only). Elsewhere the endpoint is absent and this gives null: an application embedding Usher
 * gets its token from its own backend (docs/INTEGRATION.md).
 */
async function fetchDevToken(brokerUrl: string, room: string, name: string): Promise<string | null> {
  try {
    const url = new URL(brokerUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = url.pathname.replace(/\/v1\/session$/, '/dev/token');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ room, name }),
    });
    if (!response.ok) return null;
    const body = (await response.json()) as { token?: unknown };
    return typeof body.token === 'string' ? body.token : null;
  } catch {
    return null;
  }
}
