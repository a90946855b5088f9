// A minimal WebSocket client written by hand over net.Socket (RFC 6455 handshake, masked
// client frames, unfragmented text out, any frames in), so the load generator is not the bottleneck.
import { randomBytes, randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface LeanWsHandlers {
  /** The 101 arrived: the socket is ready for frames. */
  onOpen(ws: LeanWs): void;
  onText(ws: LeanWs, text: string): void;
  onBinary?(ws: LeanWs, data: Buffer): void;
  /**
   * Exactly once per connection, whatever ended it: `code` is the peer's close code, or 1006
   * when the socket ended without a close frame (refused, reset, killed peer, handshake timeout).
   */
  onClose(ws: LeanWs, code: number, reason: string): void;
}

export interface LeanWsOptions {
  /** Give up (close 1006, reason "handshake timeout") when no 101 arrives within this. */
  handshakeTimeoutMs?: number;
  /** Extra request headers, e.g. Origin. */
  headers?: Record<string, string>;
}

const CRLF2 = Buffer.from('\r\n\r\n');
// The key only has to be 16 random bytes in base64; the bench does not check the accept hash
// (the 101 status is enough), so one key per process keeps the handshake allocation-free.
const KEY = randomBytes(16).toString('base64');

// Masks come from a pool refilled in bulk: one crypto call per 1024 frames.
const maskPool = Buffer.allocUnsafe(4096);
let maskOffset = maskPool.length;
function nextMask(target: Buffer, at: number): void {
  if (maskOffset + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskOffset = 0;
  }
  maskPool.copy(target, at, maskOffset, maskOffset + 4);
  maskOffset += 4;
}

/** Encode one masked client frame (FIN set). */
export function encodeClientFrame(opcode: number, payload: Buffer | string): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = length < 126 ? 6 : length < 65_536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  nextMask(frame, header - 4);
  if (typeof payload === 'string') frame.write(payload, header, 'utf8');
  else payload.copy(frame, header);
  const m0 = frame[header - 4]!;
  const m1 = frame[header - 3]!;
  const m2 = frame[header - 2]!;
  const m3 = frame[header - 1]!;
  let i = header;
  const end = header + length;
  for (; i + 3 < end; i += 4) {
    frame[i] = frame[i]! ^ m0;
    frame[i + 1] = frame[i + 1]! ^ m1;
    frame[i + 2] = frame[i + 2]! ^ m2;
    frame[i + 3] = frame[i + 3]! ^ m3;
  }
  for (let k = 0; i < end; i += 1, k += 1) frame[i] = frame[i]! ^ frame[header - 4 + (k & 3)]!;
  return frame;
}

export class LeanWs {
  readonly socket: Socket;
  /** Free slot for the caller's per-connection state. */
  data: unknown = undefined;
  #open = false;
  #closed = false;
  #closeSent = false;
  #closeCode = 1006;
  #closeReason = '';
  #buffer: Buffer | null = null;
  #fragments: Buffer[] | null = null;
  #fragmentOpcode = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #handlers: LeanWsHandlers;

  constructor(url: string | URL, handlers: LeanWsHandlers, options: LeanWsOptions = {}) {
    const target = typeof url === 'string' ? new URL(url) : url;
    if (target.protocol !== 'ws:') throw new TypeError(`lean-ws speaks ws:// only, got ${target.protocol}`);
    this.#handlers = handlers;
    const port = Number(target.port === '' ? 80 : target.port);
    const host = target.hostname;
    let request = `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;
    for (const [name, value] of Object.entries(options.headers ?? {})) request += `${name}: ${value}\r\n`;
    request += '\r\n';
    const socket = connect({ host, port, noDelay: true });
    this.socket = socket;
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => {
      if (this.#closeReason === '') this.#closeReason = error.message;
    });
    socket.on('close', () => this.#finish());
    const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#open) {
        this.#closeReason = 'handshake timeout';
        socket.destroy();
      }
    }, timeoutMs);
  }

  get isOpen(): boolean {
    return this.#open && !this.#closed;
  }

  send(text: string): void {
    if (!this.#open || this.#closed || this.#closeSent) return;
    this.socket.write(encodeClientFrame(0x1, text));
  }

  sendBinary(data: Buffer): void {
    if (!this.#open || this.#closed || this.#closeSent) return;
    this.socket.write(encodeClientFrame(0x2, data));
  }

  /**
   * Polite close, as browsers do it: send a close frame, wait for the server's, then end;
   * the server closes TCP. A server that never answers (frozen) is cut after closeTimeoutMs.
   */
  close(code = 1000, closeTimeoutMs = 5000): void {
    if (this.#closed) return;
    if (!this.#open) {
      this.socket.destroy();
      return;
    }
    if (!this.#closeSent) {
      this.#closeSent = true;
      const payload = Buffer.allocUnsafe(2);
      payload.writeUInt16BE(code, 0);
      this.socket.write(encodeClientFrame(0x8, payload));
      this.#timer = setTimeout(() => this.socket.destroy(), closeTimeoutMs);
      this.#timer.unref();
    }
  }

  /** Abrupt end, as when a browser tab gives up on a server it declared dead. */
  destroy(): void {
    if (this.#closeReason === '') this.#closeReason = 'destroyed by client';
    this.socket.destroy();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#buffer = null;
    this.#handlers.onClose(this, this.#closeCode, this.#closeReason);
  }

  #onData(chunk: Buffer): void {
    let data = this.#buffer === null ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#buffer = null;
    if (!this.#open) {
      const end = data.indexOf(CRLF2);
      if (end < 0) {
        if (data.length > 16_384) this.#fail('handshake response too large');
        else this.#buffer = data;
        return;
      }
      // "HTTP/1.1 101": the status code is at bytes 9..11.
      if (data.toString('latin1', 9, 12) !== '101') {
        this.#fail(`handshake refused: ${data.toString('latin1', 0, data.indexOf(13)).slice(0, 80)}`);
        return;
      }
      this.#open = true;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      data = data.subarray(end + 4);
      this.#handlers.onOpen(this);
      if (this.#closed) return;
    }
    this.#parseFrames(data);
  }

  #parseFrames(data: Buffer): void {
    let offset = 0;
    while (data.length - offset >= 2 && !this.#closed) {
      const b0 = data[offset]!;
      const b1 = data[offset + 1]!;
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = data.readUInt32BE(offset + 2) * 2 ** 32 + data.readUInt32BE(offset + 6);
        header = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) header += 4;
      if (data.length - offset < header + length) break;
      let payload = data.subarray(offset + header, offset + header + length);
      if (masked) {
        // Servers must not mask; unmask anyway rather than misread.
        const mask = data.subarray(offset + header - 4, offset + header);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i += 1) payload[i] = payload[i]! ^ mask[i & 3]!;
      }
      offset += header + length;
      this.#onFrame((b0 & 0x80) !== 0, b0 & 0x0f, payload);
    }
    if (offset < data.length && !this.#closed) this.#buffer = Buffer.from(data.subarray(offset));
  }

  #onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: {
        if (this.#fragments === null) {
          this.#fail('continuation without a first fragment');
          return;
        }
        this.#fragments.push(Buffer.from(payload));
        if (fin) {
          const whole = Buffer.concat(this.#fragments);
          this.#fragments = null;
          this.#deliver(this.#fragmentOpcode, whole);
        }
        return;
      }
      case 0x1:
      case 0x2:
        if (!fin) {
          this.#fragments = [Buffer.from(payload)];
          this.#fragmentOpcode = opcode;
          return;
        }
        this.#deliver(opcode, payload);
        return;
      case 0x8: {
        this.#closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.#closeReason = payload.length > 2 ? payload.toString('utf8', 2) : this.#closeReason;
        if (!this.#closeSent) {
          this.#closeSent = true;
          this.socket.end(encodeClientFrame(0x8, payload.subarray(0, 2)));
        } else {
          this.socket.end();
        }
        return;
      }
      case 0x9:
        if (!this.#closeSent) this.socket.write(encodeClientFrame(0xa, payload));
        return;
      case 0xa:
        return;
      default:
        this.#fail(`unknown opcode ${opcode}`);
    }
  }

  #deliver(opcode: number, payload: Buffer): void {
    if (opcode === 0x1) this.#handlers.onText(this, payload.toString('utf8'));
    else this.#handlers.onBinary?.(this, payload);
  }

  #fail(reason: string): void {
    this.#closeReason = reason;
    this.socket.destroy();
  }
}
