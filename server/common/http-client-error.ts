// Malformed or too-slow HTTP that never became a request (bad request line, huge headers,
// header or request timeout): answered on the raw socket in the catalogue's error shape.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../shared/codec.ts';
import { ErrorCatalogue, type ErrorCode } from '../../shared/errors.ts';

/** The catalogue code for a Node HTTP server's `clientError`. */
export function clientErrorCode(error: Error & { code?: string }): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'IDLE_TIMEOUT';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'FRAME_TOO_LARGE';
  return 'BAD_MESSAGE';
}

/**
 * Writes the error response for a `clientError` and closes the socket. Returns the code
 * answered, or undefined when the socket was already gone (a reset, or answered before).
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): ErrorCode | undefined {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return undefined;
  }
  const code = clientErrorCode(error);
  const status = ErrorCatalogue[code].status;
  const body = JSON.stringify(errorMessage(code, null));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  return code;
}

/**
 * Node's HTTP timeouts for a server that takes no request bodies: the headers, and the whole
 * request, within `timeoutMs`. Node checks them every `connectionsCheckingInterval`, so a slow
 * client is answered between `timeoutMs` and `timeoutMs` plus that interval.
 */
export function httpTimeouts(timeoutMs: number): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(timeoutMs / 4))),
  };
}
