// Minimal HTTP/1.1 POSTs, parsed by hand so the load generator spends little CPU per request:
// over a fresh TCP connection (a first visit) or over one kept connection (a page's origin).
import { connect, type Socket } from 'node:net';

export interface LeanResponse {
  status: number;
  body: string;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** POST `body` (JSON) and resolve with status and body; rejects on socket errors or timeout. */
export function leanPost(
  host: string,
  port: number,
  path: string,
  body: string,
  timeoutMs = 10_000,
): Promise<LeanResponse> {
  return new Promise((resolve, reject) => {
    const length = Buffer.byteLength(body);
    const request = `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`;
    const socket = connect({ host, port, noDelay: true });
    let buffer: Buffer | null = null;
    let headerEnd = -1;
    let status = 0;
    let contentLength = -1;
    let done = false;
    const timer = setTimeout(() => finish(new Error('http timeout')), timeoutMs);
    const finish = (error: Error | null, response?: LeanResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(response!);
    };
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer === null ? chunk : Buffer.concat([buffer, chunk]);
      if (headerEnd < 0) {
        headerEnd = buffer.indexOf(CRLF2);
        if (headerEnd < 0) return;
        const head = buffer.toString('latin1', 0, headerEnd);
        status = Number(head.slice(9, 12));
        const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        contentLength = match === null ? -1 : Number(match[1]);
      }
      const have = buffer.length - headerEnd - 4;
      if (contentLength >= 0 && have >= contentLength) {
        finish(null, { status, body: buffer.toString('utf8', headerEnd + 4, headerEnd + 4 + contentLength) });
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      // No content-length: the body ends with the connection.
      if (headerEnd >= 0 && buffer !== null) {
        finish(null, { status, body: buffer.toString('utf8', headerEnd + 4) });
      } else {
        finish(new Error('connection closed before a response'));
      }
    });
  });
}

/**
 * One kept HTTP/1.1 connection (as a browser keeps its connection to the page's origin):
 * requests go one at a time; the socket is reopened when the server closes it.
 */
export class KeptHttpConnection {
  readonly #host: string;
  readonly #port: number;
  #socket: Socket | null = null;
  #buffer: Buffer | null = null;
  #pending: { resolve: (response: LeanResponse) => void; reject: (error: Error) => void } | null = null;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  post(path: string, body: string): Promise<LeanResponse> {
    if (this.#pending !== null) return Promise.reject(new Error('one request at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      const request = `POST ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      (this.#socket ?? this.#open()).write(request);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }

  #open(): Socket {
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    this.#socket = socket;
    this.#buffer = null;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = null;
      const pending = this.#pending;
      this.#pending = null;
      pending?.reject(new Error('connection closed before a response'));
    });
    return socket;
  }

  #onData(chunk: Buffer): void {
    const buffer = this.#buffer === null ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#buffer = buffer;
    const headerEnd = buffer.indexOf(CRLF2);
    if (headerEnd < 0) return;
    const head = buffer.toString('latin1', 0, headerEnd);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
    if (length < 0 || buffer.length - headerEnd - 4 < length) return;
    const body = buffer.toString('utf8', headerEnd + 4, headerEnd + 4 + length);
    const rest = buffer.subarray(headerEnd + 4 + length);
    this.#buffer = rest.length > 0 ? Buffer.from(rest) : null;
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve({ status: Number(head.slice(9, 12)), body });
  }
}
