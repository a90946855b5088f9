// One browser in the storm: the SDK's real UsherSession (broker request, ping loop, the rejoin
// loop with its backoff, the peer mesh's signaling and ICE restarts) with the SDK's fake
// RTCPeerConnection and no media; its events are written down as the record the verdict reads.
import {
  type Clock,
  type SessionState,
  UsherClientError,
  UsherSession,
  type WebSocketConstructor,
} from '../../web/sdk/index.ts';
import { fakeRtc } from '../../web/sdk/testing/fake-rtc.ts';
import { LeanWebSocket } from './lean-websocket.ts';

export interface FailoverRecord {
  from: string;
  /** '' while the failover has not finished. */
  to: string;
  reason: string;
  lastPongAt: number;
  detectedAt: number;
  /** When the broker's last answer (session.assigned) of this failover arrived; 0 before. */
  assignedAt: number;
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
  state: SessionState;
  serverId: string | null;
  /** The session id of the first join; a failover must keep it (resume). */
  firstSessionId: string | null;
  sessionId: string | null;
  failovers: FailoverRecord[];
  /** Why the session ended, when it did. */
  fatal: string | null;
  /** Epoch ms of each broker socket the broker's side ended (a killed broker), bounded. */
  brokerSocketLostAt: number[];
}

export interface StormClientOptions {
  index: number;
  /** Tried in order (the SDK's BrokerPool). */
  brokerUrls: string[];
  room: string;
  clock: Clock;
  /** Called at every broker request (its time feeds the per-100 ms peak). */
  onBrokerRequest: (at: number) => void;
}

const MAX_ERRORS_KEPT = 20;
const SESSION_REQUEST_PREFIX = '{"type":"session.request"';
const SESSION_ASSIGNED_PREFIX = '{"type":"session.assigned"';
const BROKER_PATH = '/v1/session';

/** The browser WebSocket API on the bench's lean client, noting each session.request the SDK
 *  sends: the broker request count is taken on the wire, not from the SDK's own bookkeeping.
 *  (Hundreds of browsers share one core here, unlike real ones: on the `ws` library's client
 *  the storm's times measured that client's cost more than Usher's; docs/PERFORMANCE.md.) */
function countingWebSocket(
  onRequest: () => void,
  onAssigned: () => void,
  onBrokerLost: () => void,
): WebSocketConstructor {
  return class CountingWebSocket extends LeanWebSocket {
    readonly #toBroker: boolean;

    constructor(url: string) {
      super(url);
      this.#toBroker = new URL(url).pathname === BROKER_PATH;
    }

    override send(data: string): void {
      if (data.startsWith(SESSION_REQUEST_PREFIX)) onRequest();
      super.send(data);
    }

    protected override receivedText(text: string): void {
      if (this.#toBroker && text.startsWith(SESSION_ASSIGNED_PREFIX)) onAssigned();
    }

    protected override closedByPeer(): void {
      if (this.#toBroker) onBrokerLost();
    }
  };
}

export class StormClient {
  readonly record: ClientRecord;
  readonly #session: UsherSession;

  constructor(options: StormClientOptions) {
    const { clock } = options;
    this.record = {
      index: options.index,
      room: options.room,
      state: 'idle',
      serverId: null,
      firstSessionId: null,
      sessionId: null,
      failovers: [],
      fatal: null,
      brokerSocketLostAt: [],
    };
    const session = new UsherSession({
      brokerUrls: options.brokerUrls,
      room: options.room,
      name: `c${options.index}`,
      localStream: null,
      clock,
      WebSocket: countingWebSocket(
        () => options.onBrokerRequest(clock.now()),
        () => {
          const failover = this.record.failovers.at(-1);
          if (failover !== undefined && failover.rejoinedAt === 0) failover.assignedAt = clock.now();
        },
        () => {
          if (this.record.brokerSocketLostAt.length < MAX_ERRORS_KEPT)
            this.record.brokerSocketLostAt.push(clock.now());
        },
      ),
      createPeerConnection: fakeRtc(`c${options.index}-`).create,
      // A fake RTC has no stats worth sampling; the storm measures signaling, not quality.
      qualityIntervalMs: 0,
    });
    this.#session = session;
    const record = this.record;
    const current = (): FailoverRecord | undefined => {
      const last = record.failovers.at(-1);
      return last !== undefined && last.rejoinedAt === 0 ? last : undefined;
    };
    session.on('state', (state) => {
      record.state = state;
      record.serverId = session.serverId;
    });
    session.on('joined', (info) => {
      record.serverId = info.serverId;
      record.sessionId = info.peerId;
      record.firstSessionId ??= info.peerId;
    });
    session.on('failover-start', (event) => {
      record.failovers.push({
        from: event.from,
        to: '',
        reason: event.reason,
        lastPongAt: event.lastPongAt,
        detectedAt: event.detectedAt,
        assignedAt: 0,
        rejoinedAt: 0,
        attempts: 0,
        errors: [],
      });
    });
    // A failover waits before each of its requests, so its waits count its requests.
    session.on('retrying', (event) => {
      const failover = event.kind === 'failover' ? current() : undefined;
      if (failover !== undefined) failover.attempts += 1;
    });
    session.on('warning', (error) => {
      const failover = session.state === 'reconnecting' ? current() : undefined;
      if (failover !== undefined && failover.errors.length < MAX_ERRORS_KEPT)
        failover.errors.push(error.code);
    });
    session.on('failover', (done) => {
      const failover = current();
      if (failover === undefined) return;
      failover.to = done.to;
      failover.rejoinedAt = done.rejoinedAt;
    });
    session.on('error', (error) => {
      record.fatal = error.code;
    });
  }

  /** First join, with the SDK's own retries (start-up is not what the storm measures). */
  async join(): Promise<void> {
    try {
      await this.#session.join();
    } catch (error) {
      throw UsherClientError.from(error);
    }
  }

  close(): void {
    this.#session.leave();
  }
}
