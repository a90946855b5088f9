// Every HTTP error the broker answers has the wire `error` shape with a catalogue code:
// Fastify's own errors (body too large, bad JSON, validation) are mapped, and nothing
// else — no default error object, no stack — ever reaches a client.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage } from '../../shared/codec.ts';
import { ErrorCatalogue, type ErrorCode, UsherError } from '../../shared/errors.ts';
import type { Logger } from '../common/logger.ts';

/** An UsherError that knows which request it answers (decode failures carry the id). */
export class RequestError extends UsherError {
  readonly requestId: string | null;

  constructor(code: ErrorCode, requestId: string | null, message?: string, retryAfterMs?: number) {
    super(code, message, retryAfterMs === undefined ? undefined : { retryAfterMs });
    this.requestId = requestId;
  }
}

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  id: string | null,
  message?: string,
  retryAfterMs?: number,
): FastifyReply {
  if (retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
  return reply
    .code(ErrorCatalogue[code].status)
    .type('application/json; charset=utf-8')
    .send(errorMessage(code, id, message, retryAfterMs === undefined ? undefined : { retryAfterMs }));
}

/** The request id from a parsed body, when there is a usable one. */
export function bodyRequestId(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null;
}

function fastifyCode(error: FastifyError): ErrorCode | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'FRAME_TOO_LARGE';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'BAD_JSON';
    case 'FST_ERR_VALIDATION':
      return 'BAD_MESSAGE';
    default:
      return undefined;
  }
}

export function errorHandler(logger: Logger) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error instanceof UsherError) {
      const id = error instanceof RequestError ? error.requestId : bodyRequestId(request.body);
      return sendError(reply, error.code, id, error.message, error.retryAfterMs);
    }
    const fastifyError = error as FastifyError;
    const mapped = fastifyCode(fastifyError);
    if (mapped !== undefined) return sendError(reply, mapped, bodyRequestId(request.body));
    const status = fastifyError.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Other client errors (bad Content-Length, unsupported method…): a code, not Fastify's text.
      logger.debug({ code: fastifyError.code, url: request.url }, 'bad http request');
      return sendError(reply, status === 404 ? 'NOT_FOUND' : 'BAD_MESSAGE', null);
    }
    logger.error({ err: error, url: request.url }, 'unexpected error answering a request');
    return sendError(reply, 'INTERNAL', null);
  };
}

/**
 * Malformed HTTP that never became a request (bad request line, huge headers, timeout):
 * answered on the raw socket, in the same shape, instead of Fastify's default body.
 */
/** The catalogue code a malformed or timed-out HTTP request is answered with. */
export function clientErrorCode(error: Error & { code?: string }): ErrorCode {
  return error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? 'IDLE_TIMEOUT'
    : error.code === 'HPE_HEADER_OVERFLOW'
      ? 'FRAME_TOO_LARGE'
      : 'BAD_MESSAGE';
}

export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCode(error);
  const status = ErrorCatalogue[code].status;
  const body = JSON.stringify(errorMessage(code, null));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
