// The app's one piece of state: the current UsherSession and what the UI shows of it,
// as immutable snapshots for React's useSyncExternalStore. Also the chat over data channels.
import {
  type FailoverRecord,
  type PeerSummary,
  type SessionState,
  UsherClientError,
  UsherSession,
} from '../sdk/index.ts';
import { getLocalMedia, stopMedia } from './local-media.ts';

export interface ChatLine {
  id: number;
  /** Peer id of the sender; null for our own lines. */
  from: string | null;
  name: string;
  text: string;
  at: number;
}

export type Banner =
  | { kind: 'reconnecting'; from: string; reason: string }
  | { kind: 'moved'; record: FailoverRecord }
  | null;

export interface CallSnapshot {
  state: SessionState;
  room: string;
  name: string;
  peerId: string | null;
  serverId: string | null;
  serverUrl: string | null;
  address: string | null;
  rttMs: number | null;
  peers: PeerSummary[];
  localStream: MediaStream | null;
  mediaNotice: string | null;
  error: string | null;
  banner: Banner;
  chat: ChatLine[];
}

/** Wire format of a chat message on the 'usher' data channel. */
interface ChatMessage {
  kind: 'chat';
  name: string;
  text: string;
}

const MAX_CHAT_LINES = 200;
const MAX_CHAT_CHARS = 2000;

function isChat(value: unknown): value is ChatMessage {
  const v = value as Partial<ChatMessage> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'chat' &&
    typeof v.text === 'string' &&
    v.text.length <= MAX_CHAT_CHARS &&
    typeof v.name === 'string'
  );
}

const INITIAL: CallSnapshot = {
  state: 'idle',
  room: '',
  name: '',
  peerId: null,
  serverId: null,
  serverUrl: null,
  address: null,
  rttMs: null,
  peers: [],
  localStream: null,
  mediaNotice: null,
  error: null,
  banner: null,
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
  #snapshot: CallSnapshot = INITIAL;
  #session: UsherSession | null = null;
  #busy = false;
  #chatId = 0;

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

  /** Chat texts received from peers, oldest first. */
  received(): string[] {
    return [...this.#received];
  }

  async join(room: string, name: string): Promise<void> {
    if (this.#busy || (this.#session !== null && this.#session.state !== 'closed')) return;
    this.#busy = true;
    this.#update({ ...INITIAL, room, name, state: 'requesting' });
    try {
      const media = await getLocalMedia();
      this.#update({ localStream: media.stream, mediaNotice: media.notice });
      const options: ConstructorParameters<typeof UsherSession>[0] = {
        brokerUrl: this.brokerUrl,
        room,
        localStream: media.stream,
      };
      if (name !== '') options.name = name;
      const token = await fetchDevToken(this.brokerUrl, room, name);
      if (token !== null) options.token = token;
      if (this.#options.iceTransportPolicy !== undefined)
        options.iceTransportPolicy = this.#options.iceTransportPolicy;
      const session = new UsherSession(options);
      this.#session = session;
      this.#wire(session);
      await session.join();
    } catch (error) {
      const failure = UsherClientError.from(error);
      if (failure.code !== 'ABORTED') {
        this.#end(`Could not join: ${failure.message} (${failure.code})`);
      }
    } finally {
      this.#busy = false;
    }
  }

  leave(): void {
    this.#session?.leave();
    this.#end(null);
  }

  sendChat(text: string): void {
    const trimmed = text.slice(0, MAX_CHAT_CHARS);
    if (trimmed === '' || this.#session === null) return;
    const name = this.#snapshot.name || 'me';
    const message: ChatMessage = { kind: 'chat', name, text: trimmed };
    this.#session.sendData(message);
    this.#addChat({ from: null, name, text: trimmed });
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
      if (current()) this.#update({ peers });
    });
    session.on('failover-start', (event) => {
      if (current())
        this.#update({ banner: { kind: 'reconnecting', from: event.from, reason: event.reason } });
    });
    session.on('failover', (record) => {
      if (current()) this.#update({ banner: { kind: 'moved', record } });
    });
    session.on('data', (peerId, value) => {
      if (!current() || !isChat(value)) return;
      this.#received.push(value.text);
      this.#addChat({ from: peerId, name: value.name || peerId.slice(0, 6), text: value.text });
    });
    session.on('warning', (warning) => console.debug('[usher] warning', warning.code, warning.message));
    session.on('error', (error) => {
      if (current()) this.#end(`Call ended: ${error.message} (${error.code})`);
    });
  }

  #addChat(line: Omit<ChatLine, 'id' | 'at'>): void {
    this.#chatId += 1;
    const chat = [...this.#snapshot.chat, { ...line, id: this.#chatId, at: Date.now() }];
    this.#update({ chat: chat.slice(-MAX_CHAT_LINES) });
  }

  /** Back to the join form, keeping the room, name and (for an error) the reason. */
  #end(error: string | null): void {
    stopMedia(this.#snapshot.localStream);
    const { room, name, mediaNotice } = this.#snapshot;
    this.#update({ ...INITIAL, state: 'closed', room, name, mediaNotice, error });
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
