// Request/response with the broker over one WebSocket (`/v1/session`): requests are
// correlated by `id`, each has its own deadline, and the socket is reopened lazily when lost.
import type { SessionAssigned, SessionRequest } from '../../shared/protocol/broker.ts';
import type { ErrorMessage } from '../../shared/protocol/common.ts';
import { PROTOCOL_VERSION } from '../../shared/version.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { UsherClientError } from './errors.ts';
import {
  defaultWebSocket,
  discardSocket,
  parseFrame,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket.ts';

export interface BrokerClientOptions {
  /** ws(s)://host/v1/session */
  url: string;
  WebSocket?: WebSocketConstructor;
  clock?: Clock;
  /** Deadline of one request, from the call (including opening the socket). */
  requestTimeoutMs?: number;
}

export type SessionRequestInput = Pick<SessionRequest, 'room' | 'name' | 'exclude' | 'resume' | 'token'>;

interface Pending {
  resolve(reply: SessionAssigned): void;
  reject(error: UsherClientError): void;
  timer: TimerHandle;
}

export class BrokerClient {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  #socket: WebSocketLike | null = null;
  #opening: Promise<WebSocketLike> | null = null;
  #seq = 0;
  #closed = false;

  constructor(options: BrokerClientOptions) {
    this.#url = options.url;
    this.#WebSocket = options.WebSocket ?? defaultWebSocket();
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.requestTimeoutMs ?? 5000;
  }

  /** Ask for a server; resolves with the assignment or rejects with an UsherClientError. */
  request(input: SessionRequestInput): Promise<SessionAssigned> {
    if (this.#closed) return Promise.reject(UsherClientError.aborted());
    this.#seq += 1;
    const id = `r${this.#seq}`;
    const message: SessionRequest = { type: 'session.request', v: PROTOCOL_VERSION, id, room: input.room };
    if (input.name !== undefined) message.name = input.name;
    if (input.exclude !== undefined && input.exclude.length > 0) message.exclude = input.exclude;
    if (input.resume !== undefined) message.resume = input.resume;
    if (input.token !== undefined) message.token = input.token;

    return new Promise<SessionAssigned>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(UsherClientError.timeout('broker session.request', this.#timeoutMs));
        // A broker that stopped answering may have left a half-open socket: start afresh next time.
        this.#dropSocket('request timed out');
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#open().then(
        (socket) => {
          if (!this.#pending.has(id)) return;
          try {
            socket.send(JSON.stringify(message));
          } catch (error) {
            this.#settle(id, UsherClientError.brokerUnreachable(String(error)));
          }
        },
        (error: unknown) => this.#settle(id, UsherClientError.from(error)),
      );
    });
  }

  /** Close the socket and fail every pending request with ABORTED. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#settle(id, UsherClientError.aborted());
    if (this.#socket !== null) discardSocket(this.#socket);
    this.#socket = null;
    this.#opening = null;
  }

  #open(): Promise<WebSocketLike> {
    if (this.#socket !== null) return Promise.resolve(this.#socket);
    if (this.#opening !== null) return this.#opening;
    const opening = new Promise<WebSocketLike>((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new this.#WebSocket(this.#url);
      } catch (error) {
        reject(UsherClientError.brokerUnreachable(String(error)));
        return;
      }
      socket.onopen = () => {
        if (this.#opening !== opening) return discardSocket(socket);
        this.#opening = null;
        this.#socket = socket;
        resolve(socket);
      };
      socket.onmessage = (event) => this.#onMessage(event.data);
      socket.onerror = () => {
        // A close event follows; it carries the code.
      };
      socket.onclose = (event) => {
        if (this.#opening === opening) {
          this.#opening = null;
          reject(UsherClientError.brokerUnreachable(`connection failed (close ${event.code})`, event.code));
          return;
        }
        if (this.#socket === socket) this.#dropSocket(`connection closed (close ${event.code})`, event.code);
      };
    });
    this.#opening = opening;
    return opening;
  }

  #dropSocket(why: string, closeCode?: number): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#opening = null;
    if (socket !== null) discardSocket(socket);
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id, UsherClientError.brokerUnreachable(why, closeCode));
    }
  }

  #settle(id: string, outcome: SessionAssigned | UsherClientError): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.#clock.clearTimeout(pending.timer);
    if (outcome instanceof UsherClientError) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  #onMessage(data: unknown): void {
    const msg = parseFrame(data);
    if (msg === null) return;
    const id = typeof msg.id === 'string' ? msg.id : null;
    if (id === null && msg.type === 'error') {
      // About the socket, not a request (a refused Origin: the broker accepts the upgrade so the
      // page can learn why, then closes): every pending request fails with it.
      const error = UsherClientError.fromWire(msg as unknown as ErrorMessage);
      for (const pendingId of [...this.#pending.keys()]) this.#settle(pendingId, error);
      return;
    }
    if (id === null || !this.#pending.has(id)) return;
    switch (msg.type) {
      case 'session.assigned': {
        const problem = checkAssigned(msg);
        this.#settle(
          id,
          problem === null ? (msg as unknown as SessionAssigned) : UsherClientError.badReply(problem),
        );
        return;
      }
      case 'error':
        this.#settle(id, UsherClientError.fromWire(msg as unknown as ErrorMessage));
        return;
      default:
        this.#settle(id, UsherClientError.badReply(`type ${msg.type.slice(0, 32)}`));
    }
  }
}

/** The fields the client relies on; full validation is the broker's job (schemas in shared/). */
function checkAssigned(msg: Record<string, unknown>): string | null {
  const server = msg.server as { id?: unknown; url?: unknown } | undefined;
  if (typeof server?.id !== 'string' || typeof server.url !== 'string') return 'server';
  if (!/^wss?:\/\//.test(server.url)) return 'server.url';
  if (typeof msg.ticket !== 'string' || typeof msg.sessionId !== 'string') return 'ticket';
  const ping = msg.ping as { intervalMs?: unknown; timeoutMs?: unknown } | undefined;
  if (typeof ping?.intervalMs !== 'number' || typeof ping.timeoutMs !== 'number') return 'ping';
  if (!Array.isArray(msg.iceServers)) return 'iceServers';
  return null;
}

/** Mirrors Limits.excludeMax in shared/protocol/common.ts (not imported: that module pulls in
 *  typebox at runtime); broker-client.test.ts pins the two together. */
export const EXCLUDE_MAX = 16;
