// Small WebSocket helpers shared by the broker's two socket routes: frame size, text
// decoding, sending JSON only while open, and closing a peer that may never answer.
import type { WebSocket } from 'ws';

type RawData = Buffer | ArrayBuffer | Buffer[];

export function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((total, part) => total + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

export function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : data.toString('utf8');
}

/** Sends an already serialised message while the socket is open. */
export function sendText(socket: WebSocket, text: string): void {
  if (socket.readyState === socket.OPEN) socket.send(text);
}

export function sendJson(socket: WebSocket, message: unknown): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

/** How long a closing peer gets to answer the close frame before the socket is cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Close with a code, and cut the socket if the peer does not complete the handshake
 * soon (a frozen peer never will; ws would otherwise hold it for 30 s).
 */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.CLOSED) return;
  if (socket.readyState !== socket.CLOSING) socket.close(code, reason);
  const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
