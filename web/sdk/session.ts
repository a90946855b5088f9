// UsherSession: the client's state machine. join() asks the broker, connects to the
// assigned media server and runs the call; when that server is lost it asks the broker again
// (excluding the dead server, resuming the same peer id) and the mesh ICE-restarts.
import { CloseCode } from '../../shared/errors.ts';
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { BrokerClient, EXCLUDE_MAX } from './broker-client.ts';
import { type Clock, sleep, systemClock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { UsherClientError } from './errors.ts';
import type { IceRestartRecord } from './ice-restart.ts';
import { type LostEvent, MediaConnection } from './media-connection.ts';
import { PeerMesh, type PeerSummary } from './peer-mesh.ts';
import type { PeerMediaStats } from './peer-stats.ts';
import { JitterBackoffPolicy, type ReconnectPolicy } from './reconnect-policy.ts';
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

export type SessionEvents = {
  state: (state: SessionState, previous: SessionState) => void;
  /** Joined a media server (first join and after every failover). */
  joined: (info: JoinInfo) => void;
  'failover-start': (event: FailoverStart) => void;
  failover: (record: FailoverRecord) => void;
  rtt: (ms: number) => void;
  peers: (peers: PeerSummary[]) => void;
  track: (peerId: string, stream: MediaStream) => void;
  /** An app message from a peer's data channel (parsed JSON). */
  data: (peerId: string, data: unknown) => void;
  'ice-restart': (record: IceRestartRecord) => void;
  /** Something went wrong but the session goes on (a failed attempt, a refused signal). */
  warning: (error: UsherClientError) => void;
  /** The session ended because of this error (state is 'closed'). */
  error: (error: UsherClientError) => void;
};

export interface UsherSessionOptions {
  /** ws(s)://broker/v1/session */
  brokerUrl: string;
  room: string;
  name?: string;
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
}

/** Errors of a connection attempt that make its server worth excluding from the next request. */
const SERVER_FAULTS = new Set(['MEDIA_UNREACHABLE', 'TIMEOUT', 'SERVER_DRAINING', 'SERVER_FULL']);
const MAX_FAILOVER_RECORDS = 100;

export class UsherSession extends Emitter<SessionEvents> {
  readonly room: string;
  readonly name: string | undefined;
  readonly #options: UsherSessionOptions;
  readonly #clock: Clock;
  readonly #policy: ReconnectPolicy;
  readonly #broker: BrokerClient;
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
  #rtt: number | null = null;

  constructor(options: UsherSessionOptions) {
    super();
    this.#options = options;
    this.room = options.room;
    this.name = options.name;
    this.#clock = options.clock ?? systemClock;
    this.#policy = options.reconnectPolicy ?? new JitterBackoffPolicy();
    const brokerOptions: ConstructorParameters<typeof BrokerClient>[0] = {
      url: options.brokerUrl,
      clock: this.#clock,
    };
    if (options.WebSocket !== undefined) brokerOptions.WebSocket = options.WebSocket;
    if (options.brokerTimeoutMs !== undefined) brokerOptions.requestTimeoutMs = options.brokerTimeoutMs;
    this.#broker = new BrokerClient(brokerOptions);
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
    this.#mesh.on('peers', (peers) => this.emit('peers', peers));
    this.#mesh.on('track', (peerId, stream) => this.emit('track', peerId, stream));
    this.#mesh.on('ice-restart', (record) => this.emit('ice-restart', record));
    this.#mesh.on('data', (peerId, text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // Not one of ours.
      }
      this.emit('data', peerId, value);
    });
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

  /** Ask the broker for a server and join the room there. Rejects with an UsherClientError
   *  (state back to 'idle', so join may be called again) unless left meanwhile.
   *  An assigned server that does not answer (frozen or dead before the broker noticed) is
   *  excluded and the broker asked again, with the same jittered backoff as a failover. */
  async join(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new UsherClientError('INVALID_STATE', `join() in state ${this.#state}`);
    }
    const startedAt = this.#clock.now();
    const exclude: string[] = [];
    for (let attempt = 0; ; attempt += 1) {
      this.#setState('requesting');
      let assigned: SessionAssigned | null = null;
      try {
        const request: Parameters<BrokerClient['request']>[0] = { room: this.room };
        if (this.name !== undefined) request.name = this.name;
        if (exclude.length > 0) request.exclude = [...exclude];
        assigned = await this.#broker.request(request);
        if (this.#isClosed()) throw UsherClientError.aborted();
        if (exclude.includes(assigned.server.id)) throw UsherClientError.sameServer(assigned.server.id);
        this.#setState('connecting');
        await this.#connect(assigned);
        this.#setState('joined');
        this.#emitJoined();
        return;
      } catch (error) {
        const failure = UsherClientError.from(error);
        const failed = assigned?.server.id;
        const serverFault = failed !== undefined && SERVER_FAULTS.has(failure.code);
        const delay = serverFault
          ? this.#policy.nextRetryDelayMs({
              attempt,
              elapsedMs: this.#clock.now() - startedAt,
              reason: failure.code,
            })
          : null;
        if (this.#isClosed() || delay === null || failed === undefined || exclude.length >= EXCLUDE_MAX) {
          if (!this.#isClosed()) this.#setState('idle');
          throw failure;
        }
        if (!exclude.includes(failed)) exclude.push(failed);
        this.emit('warning', failure);
        await sleep(this.#clock, Math.max(delay, failure.retryAfterMs ?? 0), this.#stop.signal);
        if (this.#isClosed()) throw UsherClientError.aborted();
      }
    }
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
    const connOptions: ConstructorParameters<typeof MediaConnection>[0] = {
      url: assigned.server.url,
      ticket: assigned.ticket,
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
    conn.on('error', (error) => current() && this.emit('warning', error));
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
      // Another connection took over this session (another tab): do not fight it.
      this.#fail(new UsherClientError('SESSION_REPLACED', 'the session joined on another connection'));
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
    const exclude = [from];
    let reason: string = lost.reason;
    let retryAfterMs = 0;
    let lastError: UsherClientError | undefined;
    for (let attempt = 0; ; attempt += 1) {
      const elapsedMs = this.#clock.now() - lost.detectedAt;
      const delay = this.#policy.nextRetryDelayMs({ attempt, elapsedMs, reason });
      if (delay === null) {
        this.#fail(UsherClientError.gaveUp(elapsedMs, lastError));
        return;
      }
      await sleep(this.#clock, Math.max(delay, retryAfterMs), this.#stop.signal);
      if (this.#state !== 'reconnecting') return;
      let assigned: SessionAssigned | null = null;
      try {
        const request: Parameters<BrokerClient['request']>[0] = { room: this.room, exclude };
        if (this.name !== undefined) request.name = this.name;
        if (this.#resume !== null) request.resume = this.#resume;
        assigned = await this.#broker.request(request);
        if (this.#state !== 'reconnecting') return;
        if (exclude.includes(assigned.server.id)) throw UsherClientError.sameServer(assigned.server.id);
        await this.#connect(assigned);
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
        return;
      } catch (error) {
        if (this.#state !== 'reconnecting') return;
        const failure = UsherClientError.from(error);
        lastError = failure;
        reason = failure.code;
        retryAfterMs = failure.retryAfterMs ?? 0;
        if (!failure.retryable) {
          this.#fail(failure);
          return;
        }
        // The proof no longer holds (older than the broker's resume window, or signed under a
        // retired key): come back as a new peer.
        if (failure.code === 'BAD_RESUME') this.#resume = null;
        const failed = assigned?.server.id;
        if (failed !== undefined && SERVER_FAULTS.has(failure.code) && !exclude.includes(failed)) {
          if (exclude.length < EXCLUDE_MAX) exclude.push(failed);
        }
        this.emit('warning', failure);
      }
    }
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

  #shutdown(): void {
    this.#stop.abort();
    this.#opening?.close();
    this.#opening = null;
    this.#conn?.close();
    this.#conn = null;
    this.#broker.close();
    this.#mesh.close();
  }

  #setState(next: SessionState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.emit('state', next, previous);
  }
}
