// Refused WebSocket handshakes in the wire error shape. ws answers a malformed upgrade (bad
// key, version or subprotocol header) with its own text/html body unless its server has a
// `wsClientError` listener: this is that listener, shared by the broker and the media server.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { errorMessage } from '../../shared/codec.ts';
import { ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';
import type { Logger } from './logger.ts';

/** Answers an upgrade request on its raw socket with a catalogue error, then closes it. */
export function refuseUpgrade(
  socket: Duplex,
  code: ErrorCode,
  message?: string,
  headers: Record<string, string> = {},
): void {
  socket.on('error', () => {});
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = ErrorCatalogue[code].status;
  const body = JSON.stringify(errorMessage(code, null, message));
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/** Makes `wss` refuse malformed handshakes with BAD_MESSAGE (ws's own reason as the message). */
export function answerHandshakeErrors(wss: WebSocketServer, logger: Logger): void {
  wss.on('wsClientError', (error, socket) => {
    logger.debug({ err: error.message }, 'malformed websocket handshake');
    // ws's reasons are fixed strings naming the header ("Missing or invalid Sec-WebSocket-Key header").
    const version = /Version/.test(error.message) ? { 'Sec-WebSocket-Version': '13, 8' } : undefined;
    refuseUpgrade(socket, 'BAD_MESSAGE', error.message.slice(0, 200), version);
  });
}
