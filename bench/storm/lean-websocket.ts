// The browser WebSocket API (the slice the SDK uses) on top of the lean client, so the
// storm's browsers run the SDK's real session cheaply.
import type { WebSocketLike } from '../../web/sdk/websocket.ts';
import { LeanWs } from '../lib/lean-ws.ts';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export class LeanWebSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  #state = CONNECTING;
  #closedByUs = false;
  readonly #ws: LeanWs;

  constructor(url: string) {
    this.#ws = new LeanWs(
      url,
      {
        onOpen: () => {
          this.#state = OPEN;
          this.onopen?.({});
        },
        onText: (_ws, text) => {
          this.receivedText(text);
          this.onmessage?.({ data: text });
        },
        onClose: (_ws, code, reason) => {
          this.#state = CLOSED;
          if (!this.#closedByUs) this.closedByPeer(code);
          // As in browsers: an abnormal end fires `error` first, then `close` with 1006.
          if (code === 1006) this.onerror?.({});
          this.onclose?.({ code, reason });
        },
      },
      // Browsers wait longer, but the SDK's own join/request deadlines (≤ 5 s) fire first.
      { handshakeTimeoutMs: 30_000 },
    );
  }

  /** Every text frame, before the page sees it: a subclass may note it. */
  protected receivedText(_text: string): void {}

  /** The server or the network ended it (not close()): a subclass may note it. */
  protected closedByPeer(_code: number): void {}

  get readyState(): number {
    return this.#state;
  }

  send(data: string): void {
    if (this.#state !== OPEN) throw new Error('WebSocket is not open');
    this.#ws.send(data);
  }

  close(code = 1000): void {
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    this.#state = CLOSING;
    this.#closedByUs = true;
    this.#ws.close(code);
  }
}
