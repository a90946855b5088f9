// UsherSession: the client's state machine. join() gets the session into its room (rejoin.ts:
// broker, then the assigned media server, retried per error class and policy) and runs the call;
// when that server is lost the same loop asks again (excluding the dead server, resuming the same
// peer id) and the mesh ICE-restarts.
import { CloseCode } from '../../shared/errors.ts';
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { BrokerPool, type BrokerPoolOptions } from './broker-pool.ts';
import { type Clock, systemClock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { UsherClientError } from './errors.ts';
import type { IceRestartRecord } from './ice-restart.ts';
import { type LostEvent, MediaConnection } from './media-connection.ts';
import {
  controlMessage,
  type MuteState,
  muteMessage,
  type Participant,
  type ParticipantEvents,
  ParticipantRoster,
} from './participants.ts';
import { PeerMesh, type PeerSummary } from './peer-mesh.ts';
import type { PeerMediaStats } from './peer-stats.ts';
import { JitterBackoffPolicy, type ReconnectPolicy } from './reconnect-policy.ts';
import { Rejoin, type RejoinContext, type RejoinStart, type RetryingEvent } from './rejoin.ts';
import { checkSeat } from './seat.ts';
import type { WebSocketConstructor } from './websocket.ts';

export type SessionState = 'idle' | 'requesting' | 'connecting' | 'joined' | 'reconnecting' | 'closed';

export interface JoinInfo {
  room: string;
  peerId: string;
  serverId: string;
  serverUrl: string;
  /** Our address as the broker saw it. */
  client: { address: string; port?: number };
}

export interface FailoverStart {
  from: string;
  reason: LostEvent['reason'];
  /** Last pong from the lost server (epoch ms). */
  lastPongAt: number;
  detectedAt: number;
}

export interface FailoverRecord {
  from: string;
  to: string;
  reason: LostEvent['reason'];
  /** Last pong from the lost server: when it was last known alive. */
  lostAt: number;
  detectedAt: number;
  rejoinedAt: number;
}

export type SessionEvents = ParticipantEvents & {
  state: (state: SessionState, previous: SessionState) => void;
  /** Joined a media server (first join and after every failover). */
  joined: (info: JoinInfo) => void;
  'failover-start': (event: FailoverStart) => void;
  failover: (record: FailoverRecord) => void;
  /** Waiting before the next attempt to get into the room (first join or failover): the app can
   *  show "waiting for a server, retrying in N s"; leave() cancels. */
  retrying: (event: RetryingEvent) => void;
  rtt: (ms: number) => void;
  /** The raw peer list (prefer the participant-* events: one object per peer). */
  peers: (peers: PeerSummary[]) => void;
  /** Fires once per remote track, so twice for a peer with audio and video; the stream is the
   *  peer's one stream both times (prefer participant-updated). */
  track: (peerId: string, stream: MediaStream) => void;
  /** An app message from a peer's data channel (parsed JSON). */
  data: (peerId: string, data: unknown) => void;
  'ice-restart': (record: IceRestartRecord) => void;
  /** Something went wrong but the session goes on (a failed attempt, a refused signal). */
  warning: (error: UsherClientError) => void;
  /** The session ended because of this error (state is 'closed'): a permanent error, SESSION_REPLACED,
   *  or GAVE_UP after a failover (its message names the last error). A failed join() rejects instead. */
  error: (error: UsherClientError) => void;
};

export interface UsherSessionOptions {
  /** ws(s)://broker/v1/session; tried first when brokerUrls is given too. */
  brokerUrl?: string;
  /** Brokers tried in order: one that cannot be reached or does not answer in time hands the
   *  next attempt to the next URL (wrapping around). */
  brokerUrls?: readonly string[];
  room: string;
  /** Display name (open mode only: with a join token the name is the token's). */
  name?: string;
  /** The join token the application's backend signed for this user and room (token mode). */
  token?: string;
  /** Called for a new token when the broker answers TOKEN_EXPIRED on a new session's request
   *  (a failover within the resume TTL needs none). */
  getToken?: () => Promise<string>;
  /** Camera/mic to send to every peer; null for receive-only. */
  localStream?: MediaStream | null;
  reconnectPolicy?: ReconnectPolicy;
  WebSocket?: WebSocketConstructor;
  clock?: Clock;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** Given to every RTCPeerConnection: 'relay' forces all media through the broker's TURN
   *  servers (which must then be configured), 'all' (the browser default) allows direct paths. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  brokerTimeoutMs?: number;
  /** How often peers' connection quality is sampled with getStats() while joined (default 2000;
   *  0 turns sampling off, e.g. for a load generator driving thousands of sessions). */
  qualityIntervalMs?: number;
}

const MAX_FAILOVER_RECORDS = 100;

/** Muted in a kind = no enabled track of it. */
function mutedOf(stream: MediaStream | null): MuteState {
  const live = (kind: string): boolean =>
    stream?.getTracks().some((track) => track.kind === kind && track.enabled) ?? false;
  return { audio: !live('audio'), video: !live('video') };
}

/** brokerUrl first, then brokerUrls, each once. */
function brokerUrlsOf(options: UsherSessionOptions): string[] {
  const urls = [
    ...(options.brokerUrl === undefined ? [] : [options.brokerUrl]),
    ...(options.brokerUrls ?? []),
  ];
  return [...new Set(urls)];
}

export class UsherSession extends Emitter<SessionEvents> {
  readonly room: string;
  readonly name: string | undefined;
  readonly #options: UsherSessionOptions;
  readonly #clock: Clock;
  readonly #policy: ReconnectPolicy;
  readonly #brokers: BrokerPool;
  readonly #mesh: PeerMesh;
  readonly #failovers: FailoverRecord[] = [];
  readonly #stop = new AbortController();
  #state: SessionState = 'idle';
  #conn: MediaConnection | null = null;
  #opening: MediaConnection | null = null;
  #assigned: SessionAssigned | null = null;
  #peerId: string | null = null;
  /** The last ticket for this room: proves our peer id to the broker on failover. */
  #resume: string | null = null;
  #token: string | null;
  #rtt: number | null = null;
  /** The last permanent error the current media server sent: the reason for its 4409 close. */
  #closingReason: UsherClientError | null = null;
  readonly #roster = new ParticipantRoster();
  /** Peers whose data channel was open at the last peer list: a newly opened one gets our mute state. */
  #dataOpen = new Set<string>();
  #muted: MuteState;
  #qualityTimer: unknown = null;

  constructor(options: UsherSessionOptions) {
    super();
    this.#options = options;
    this.room = options.room;
    this.name = options.name;
    this.#token = options.token ?? null;
    this.#clock = options.clock ?? systemClock;
    this.#policy = options.reconnectPolicy ?? new JitterBackoffPolicy();
    const brokerOptions: BrokerPoolOptions = { urls: brokerUrlsOf(options), clock: this.#clock };
    if (options.WebSocket !== undefined) brokerOptions.WebSocket = options.WebSocket;
    if (options.brokerTimeoutMs !== undefined) brokerOptions.requestTimeoutMs = options.brokerTimeoutMs;
    this.#brokers = new BrokerPool(brokerOptions);
    const meshOptions: ConstructorParameters<typeof PeerMesh>[0] = {
      signal: (to, data) => this.#conn?.signal(to, data) ?? false,
      localStream: options.localStream ?? null,
      clock: this.#clock,
    };
    if (options.createPeerConnection !== undefined) {
      meshOptions.createPeerConnection = options.createPeerConnection;
    }
    if (options.iceTransportPolicy !== undefined) meshOptions.iceTransportPolicy = options.iceTransportPolicy;
    this.#mesh = new PeerMesh(meshOptions);
    this.#muted = mutedOf(options.localStream ?? null);
    this.#roster.on('participant-joined', (p) => this.emit('participant-joined', p));
    this.#roster.on('participant-left', (p) => this.emit('participant-left', p));
    this.#roster.on('participant-updated', (p) => this.emit('participant-updated', p));
    this.#mesh.on('peers', (peers) => {
      this.#announceToNewChannels(peers);
      this.#roster.fromPeers(peers);
      this.emit('peers', peers);
    });
    this.#mesh.on('track', (peerId, stream) => this.emit('track', peerId, stream));
    this.#mesh.on('ice-restart', (record) => this.emit('ice-restart', record));
    this.#mesh.on('data', (peerId, text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // Not one of ours.
      }
      const control = controlMessage(value);
      if (control === null) this.emit('data', peerId, value);
      else if ('audio' in control) this.#roster.setMute(peerId, control);
      // Other control kinds come from newer SDKs: ignored.
    });
  }

  /** One entry per remote peer, with its stream, mute state and connection quality. */
  participants(): Participant[] {
    return this.#roster.list();
  }

  participant(id: string): Participant | undefined {
    return this.#roster.get(id);
  }

  /** Our own mute state, as the other peers see it. */
  get muted(): MuteState {
    return { ...this.#muted };
  }

  /** Mute or unmute our microphone and/or camera (the tracks stay, disabled: no renegotiation)
   *  and tell every peer, so their participant shows it. A kind left out keeps its state; a kind
   *  we send no track of stays muted. */
  setMuted(change: Partial<MuteState>): MuteState {
    const stream = this.#options.localStream ?? null;
    for (const kind of ['audio', 'video'] as const) {
      const wanted = change[kind];
      if (wanted === undefined) continue;
      for (const track of stream?.getTracks() ?? []) if (track.kind === kind) track.enabled = !wanted;
    }
    this.#muted = mutedOf(stream);
    if (!this.#isClosed()) this.#mesh.broadcast(muteMessage(this.#muted));
    return this.muted;
  }

  get state(): SessionState {
    return this.#state;
  }

  get peerId(): string | null {
    return this.#peerId;
  }

  get serverId(): string | null {
    return this.#state === 'joined' ? (this.#assigned?.server.id ?? null) : null;
  }

  get serverUrl(): string | null {
    return this.#state === 'joined' ? (this.#assigned?.server.url ?? null) : null;
  }

  /** Our address as the broker saw it (from the last assignment). */
  get clientAddress(): { address: string; port?: number } | null {
    return this.#assigned?.client ?? null;
  }

  get rttMs(): number | null {
    return this.#rtt;
  }

  peers(): PeerSummary[] {
    return this.#mesh.peers();
  }

  stats(): Promise<Record<string, PeerMediaStats>> {
    return this.#mesh.stats();
  }

  failovers(): FailoverRecord[] {
    return this.#failovers.map((record) => ({ ...record }));
  }

  iceRestarts(): IceRestartRecord[] {
    return this.#mesh.iceRestarts();
  }

  /** Ask the broker for a server and join the room there. Transient failures are retried with
   *  the policy's jittered backoff (a `retrying` event before each wait): the broker's
   *  NO_SERVER_AVAILABLE, RATE_LIMITED (no sooner than its retryAfterMs), INTERNAL, an unreachable
   *  or silent broker (next broker URL), and an assigned server that does not answer (excluded).
   *  Rejects with a permanent error, GAVE_UP (the policy's give-up, naming the last error) or
   *  ABORTED (left meanwhile); after a rejection other than ABORTED the state is back to 'idle',
   *  so join may be called again. */
  async join(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new UsherClientError('INVALID_STATE', `join() in state ${this.#state}`);
    }
    this.#setState('requesting');
    try {
      await this.#rejoin({ kind: 'join', exclude: [], startedAt: this.#clock.now(), firstReason: null });
    } catch (error) {
      if (!this.#isClosed()) this.#setState('idle');
      throw error;
    }
    this.#setState('joined');
    this.#emitJoined();
    this.#scheduleQuality();
  }

  /** Say goodbye to the room and release everything; the session cannot be reused. */
  leave(): void {
    if (this.#state === 'closed') return;
    this.#conn?.leave();
    this.#conn = null;
    this.#shutdown();
    this.#setState('closed');
  }

  /** Send an app message (JSON) to every peer with an open data channel; returns how many. */
  sendData(value: unknown): number {
    return this.#mesh.broadcast(JSON.stringify(value));
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Connect to the assigned server and hand the room's peers to the mesh. */
  async #connect(assigned: SessionAssigned): Promise<void> {
    // Before any socket: a seat that names another server means this one never agreed.
    checkSeat(assigned);
    const connOptions: ConstructorParameters<typeof MediaConnection>[0] = {
      url: assigned.server.url,
      // The server's own confirmation admits; the broker's ticket only where no seat was confirmed.
      ticket: assigned.seat ?? assigned.ticket,
      room: assigned.room,
      ping: assigned.ping,
      clock: this.#clock,
    };
    if (this.#options.WebSocket !== undefined) connOptions.WebSocket = this.#options.WebSocket;
    const conn = new MediaConnection(connOptions);
    const current = (): boolean => this.#conn === conn;
    conn.on('signal', (from, data) => current() && this.#mesh.signal(from, data));
    conn.on('peer.joined', (peer) => current() && this.#mesh.peerJoined(peer));
    conn.on('peer.left', (peerId, reason) => current() && this.#mesh.peerLeft(peerId, reason));
    conn.on('error', (error) => {
      if (!current()) return;
      // The server says why before it closes with 4409 (replaced, or removed by the application).
      if (error.retry === 'never') this.#closingReason = error;
      this.emit('warning', error);
    });
    conn.on('rtt', (ms) => {
      if (!current()) return;
      this.#rtt = ms;
      this.emit('rtt', ms);
    });
    conn.on('lost', (event) => this.#onLost(conn, event));
    this.#opening = conn;
    let joined: Awaited<ReturnType<MediaConnection['open']>>;
    try {
      joined = await conn.open();
    } finally {
      this.#opening = null;
    }
    if (this.#isClosed()) {
      conn.close();
      throw UsherClientError.aborted();
    }
    // Runs before the socket's next message is dispatched (still the same task's microtasks),
    // so no signal can slip in ahead of the peer list.
    this.#conn = conn;
    this.#closingReason = null;
    this.#assigned = assigned;
    this.#peerId = joined.peerId;
    this.#resume = assigned.ticket;
    this.#rtt = null;
    this.#mesh.setSelf(joined.peerId);
    this.#mesh.setIceServers(assigned.iceServers);
    this.#mesh.roomJoined(joined.peers);
  }

  #onLost(conn: MediaConnection, event: LostEvent): void {
    if (conn !== this.#conn || this.#state !== 'joined') return;
    this.#conn = null;
    if (event.closeCode === CloseCode.CONFLICT) {
      // Another connection took over this session (another tab), or the application removed
      // this participant: do not fight it, and end with the reason the server gave.
      this.#fail(
        this.#closingReason ??
          new UsherClientError('SESSION_REPLACED', 'the session joined on another connection'),
      );
      return;
    }
    void this.#failover(event);
  }

  async #failover(lost: LostEvent): Promise<void> {
    const from = this.#assigned?.server.id ?? '';
    this.#setState('reconnecting');
    this.emit('failover-start', {
      from,
      reason: lost.reason,
      lastPongAt: lost.lastPongAt,
      detectedAt: lost.detectedAt,
    });
    let assigned: SessionAssigned;
    try {
      assigned = await this.#rejoin({
        kind: 'failover',
        exclude: [from],
        startedAt: lost.detectedAt,
        firstReason: lost.reason,
      });
    } catch (error) {
      this.#fail(UsherClientError.from(error));
      return;
    }
    const record: FailoverRecord = {
      from,
      to: assigned.server.id,
      reason: lost.reason,
      lostAt: lost.lastPongAt,
      detectedAt: lost.detectedAt,
      rejoinedAt: this.#clock.now(),
    };
    this.#failovers.push(record);
    if (this.#failovers.length > MAX_FAILOVER_RECORDS) this.#failovers.shift();
    this.#setState('joined');
    this.#emitJoined();
    this.emit('failover', { ...record });
  }

  /** The one loop of the first join and of every failover. */
  #rejoin(start: RejoinStart): Promise<SessionAssigned> {
    const request: RejoinContext['request'] =
      this.name === undefined ? { room: this.room } : { room: this.room, name: this.name };
    const getToken = this.#options.getToken;
    const ctx: RejoinContext = {
      clock: this.#clock,
      policy: this.#policy,
      brokers: this.#brokers,
      signal: this.#stop.signal,
      request,
      resumeProof: () => this.#resume,
      dropResumeProof: () => {
        this.#resume = null;
      },
      joinToken: () => this.#token,
      refreshJoinToken:
        getToken === undefined
          ? undefined
          : async () => {
              this.#token = await getToken();
            },
      connect: (assigned) => this.#connect(assigned),
      // A first join shows its steps; a failover stays 'reconnecting' until it is back.
      step: (step) => {
        if (start.kind === 'join') this.#setState(step);
      },
      retrying: (event) => this.emit('retrying', event),
      warning: (error) => this.emit('warning', error),
    };
    return new Rejoin(ctx, start).run();
  }

  #emitJoined(): void {
    const assigned = this.#assigned;
    if (assigned === null || this.#peerId === null) return;
    this.emit('joined', {
      room: assigned.room,
      peerId: this.#peerId,
      serverId: assigned.server.id,
      serverUrl: assigned.server.url,
      client: { ...assigned.client },
    });
  }

  #fail(error: UsherClientError): void {
    if (this.#isClosed()) return;
    this.#shutdown();
    this.#setState('closed');
    this.emit('error', error);
  }

  #announceToNewChannels(peers: readonly PeerSummary[]): void {
    const open = new Set(peers.filter((peer) => peer.dataOpen).map((peer) => peer.peerId));
    const message = muteMessage(this.#muted);
    for (const peerId of open) if (!this.#dataOpen.has(peerId)) this.#mesh.send(peerId, message);
    this.#dataOpen = open;
  }

  #scheduleQuality(): void {
    const every = this.#options.qualityIntervalMs ?? 2000;
    if (this.#qualityTimer !== null || this.#isClosed() || every <= 0) return;
    this.#qualityTimer = this.#clock.setTimeout(() => {
      this.#qualityTimer = null;
      if (this.#isClosed()) return;
      const sampling = this.#roster.list().length === 0 ? Promise.resolve(null) : this.#mesh.stats();
      void sampling.then((stats) => {
        if (this.#isClosed()) return;
        if (stats !== null) this.#roster.sampled(stats, this.#clock.now());
        this.#scheduleQuality();
      });
    }, every);
  }

  #shutdown(): void {
    if (this.#qualityTimer !== null) this.#clock.clearTimeout(this.#qualityTimer);
    this.#qualityTimer = null;
    this.#roster.clear();
    this.#stop.abort();
    this.#opening?.close();
    this.#opening = null;
    this.#conn?.close();
    this.#conn = null;
    this.#brokers.close();
    this.#mesh.close();
  }

  #setState(next: SessionState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.emit('state', next, previous);
  }
}
