// One simulated browser in the storm: the SDK's own BrokerClient, MediaConnection (ping
// loop, pong deadline, join timeout) and JitterBackoffPolicy, driven by the same join and
// failover steps as UsherSession — everything but the WebRTC mesh — and recording each step.
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { BrokerClient, EXCLUDE_MAX } from '../../web/sdk/broker-client.ts';
import { type Clock, sleep } from '../../web/sdk/clock.ts';
import { UsherClientError } from '../../web/sdk/errors.ts';
import { type LostEvent, MediaConnection } from '../../web/sdk/media-connection.ts';
import type { ReconnectPolicy } from '../../web/sdk/reconnect-policy.ts';
import { LeanWebSocket } from './lean-websocket.ts';

/** As UsherSession: errors that make the server they came from worth excluding. */
const SERVER_FAULTS = new Set(['MEDIA_UNREACHABLE', 'TIMEOUT', 'SERVER_DRAINING', 'SERVER_FULL']);

export interface FailoverRecord {
  from: string;
  /** '' while the failover has not finished. */
  to: string;
  reason: string;
  lastPongAt: number;
  detectedAt: number;
  /** 0 while not rejoined. */
  rejoinedAt: number;
  /** Broker requests made for this failover. */
  attempts: number;
  /** Error codes of failed attempts, in order (bounded). */
  errors: string[];
}

export interface ClientRecord {
  index: number;
  room: string;
  state: 'idle' | 'requesting' | 'connecting' | 'joined' | 'reconnecting' | 'closed';
  serverId: string | null;
  /** The session id of the first join; a failover must keep it (resume). */
  firstSessionId: string | null;
  sessionId: string | null;
  failovers: FailoverRecord[];
  /** Why the session ended, when it did. */
  fatal: string | null;
}

export interface SimOptions {
  index: number;
  brokerUrl: string;
  room: string;
  policy: ReconnectPolicy;
  clock: Clock;
  /** Called at every broker request (its time feeds the per-100 ms peak). */
  onBrokerRequest: (at: number) => void;
}

export class SimSession {
  readonly #options: SimOptions;
  readonly #broker: BrokerClient;
  readonly #stop = new AbortController();
  readonly record: ClientRecord;
  #conn: MediaConnection | null = null;
  #assigned: SessionAssigned | null = null;
  #resume: string | null = null;

  constructor(options: SimOptions) {
    this.#options = options;
    this.#broker = new BrokerClient({
      url: options.brokerUrl,
      WebSocket: LeanWebSocket,
      clock: options.clock,
    });
    this.record = {
      index: options.index,
      room: options.room,
      state: 'idle',
      serverId: null,
      firstSessionId: null,
      sessionId: null,
      failovers: [],
      fatal: null,
    };
  }

  /** First join (the bench retries it itself if it fails: start-up is not what is measured). */
  async join(): Promise<void> {
    if (this.record.state !== 'idle') return;
    this.record.state = 'requesting';
    try {
      const assigned = await this.#request({ room: this.record.room, name: `c${this.#options.index}` });
      this.record.state = 'connecting';
      await this.#connect(assigned);
      this.record.firstSessionId = assigned.sessionId;
      this.record.state = 'joined';
    } catch (error) {
      if ((this.record.state as ClientRecord['state']) !== 'closed') this.record.state = 'idle';
      throw UsherClientError.from(error);
    }
  }

  close(): void {
    if (this.record.state === 'closed') return;
    this.record.state = 'closed';
    this.#stop.abort();
    this.#conn?.close();
    this.#conn = null;
    this.#broker.close();
  }

  #request(input: Parameters<BrokerClient['request']>[0]): Promise<SessionAssigned> {
    this.#options.onBrokerRequest(this.#options.clock.now());
    return this.#broker.request(input);
  }

  async #connect(assigned: SessionAssigned): Promise<void> {
    const conn = new MediaConnection({
      url: assigned.server.url,
      ticket: assigned.ticket,
      room: assigned.room,
      ping: assigned.ping,
      WebSocket: LeanWebSocket,
      clock: this.#options.clock,
    });
    conn.on('lost', (event) => this.#onLost(conn, event));
    const joined = await conn.open();
    if (this.record.state === 'closed') {
      conn.close();
      throw UsherClientError.aborted();
    }
    this.#conn = conn;
    this.#assigned = assigned;
    this.#resume = assigned.ticket;
    this.record.serverId = assigned.server.id;
    this.record.sessionId = joined.peerId;
  }

  #onLost(conn: MediaConnection, event: LostEvent): void {
    if (conn !== this.#conn || this.record.state !== 'joined') return;
    this.#conn = null;
    if (event.closeCode === 4409) {
      this.#fail('SESSION_REPLACED');
      return;
    }
    void this.#failover(event);
  }

  async #failover(lost: LostEvent): Promise<void> {
    const from = this.#assigned?.server.id ?? '';
    const { clock, policy } = this.#options;
    this.record.state = 'reconnecting';
    this.record.serverId = null;
    const failover: FailoverRecord = {
      from,
      to: '',
      reason: lost.reason,
      lastPongAt: lost.lastPongAt,
      detectedAt: lost.detectedAt,
      rejoinedAt: 0,
      attempts: 0,
      errors: [],
    };
    this.record.failovers.push(failover);
    const exclude = [from];
    let reason: string = lost.reason;
    let retryAfterMs = 0;
    for (let attempt = 0; ; attempt += 1) {
      const elapsedMs = clock.now() - lost.detectedAt;
      const delay = policy.nextRetryDelayMs({ attempt, elapsedMs, reason });
      if (delay === null) {
        this.#fail('GAVE_UP');
        return;
      }
      await sleep(clock, Math.max(delay, retryAfterMs), this.#stop.signal);
      if (this.record.state !== 'reconnecting') return;
      let assigned: SessionAssigned | null = null;
      try {
        const request: Parameters<BrokerClient['request']>[0] = {
          room: this.record.room,
          name: `c${this.#options.index}`,
          exclude,
        };
        if (this.#resume !== null) request.resume = this.#resume;
        failover.attempts += 1;
        assigned = await this.#request(request);
        if (this.record.state !== 'reconnecting') return;
        if (exclude.includes(assigned.server.id)) throw UsherClientError.sameServer(assigned.server.id);
        await this.#connect(assigned);
        failover.to = assigned.server.id;
        failover.rejoinedAt = clock.now();
        this.record.state = 'joined';
        return;
      } catch (error) {
        if (this.record.state !== 'reconnecting') return;
        const failure = UsherClientError.from(error);
        if (failover.errors.length < 20) failover.errors.push(failure.code);
        reason = failure.code;
        retryAfterMs = failure.retryAfterMs ?? 0;
        if (!failure.retryable) {
          this.#fail(failure.code);
          return;
        }
        if (failure.code === 'BAD_RESUME') this.#resume = null;
        const failed = assigned?.server.id;
        if (failed !== undefined && SERVER_FAULTS.has(failure.code) && !exclude.includes(failed)) {
          if (exclude.length < EXCLUDE_MAX) exclude.push(failed);
        }
      }
    }
  }

  #fail(code: string): void {
    if (this.record.state === 'closed') return;
    this.record.fatal = code;
    this.close();
  }
}
