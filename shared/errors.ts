// The one catalogue of error codes Usher sends on any channel: each entry gives the
// HTTP status, the WebSocket close code (when the error ends the connection) and the
// default message. Codes are stable wire strings: never reuse or rename one.

/** WebSocket close codes Usher uses. 4000-4999 is the application range (RFC 6455 §7.4.2). */
export const CloseCode = {
  /** Standard: the endpoint is going away (server shutdown, drain finished). */
  GOING_AWAY: 1001,
  /** Standard: protocol error (not valid WebSocket: bad opcode, unmasked client frame, …). */
  PROTOCOL_ERROR: 1002,
  /** Standard: a text frame that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** Standard: a frame larger than the channel's maxPayload. */
  MESSAGE_TOO_BIG: 1009,
  /** Standard: unexpected server condition. */
  INTERNAL_ERROR: 1011,
  /** The first message was not a valid join/register, or a protocol rule was broken. */
  BAD_REQUEST: 4400,
  /** Ticket or credentials rejected. */
  UNAUTHORIZED: 4401,
  /** Origin not allowed. */
  FORBIDDEN: 4403,
  /** No join within the deadline, or no traffic for too long. */
  IDLE_TIMEOUT: 4408,
  /** Another live connection holds this identity (server id, or session id in a room). */
  CONFLICT: 4409,
  /** Too many messages, or too many connections from one address. */
  RATE_LIMITED: 4429,
  /** Server is draining: go back to the broker and ask for another server. */
  MIGRATE: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

interface ErrorSpec {
  readonly status: number;
  readonly close: CloseCode | null;
  readonly message: string;
}

function spec(status: number, close: CloseCode | null, message: string): ErrorSpec {
  return { status, close, message };
}

export const ErrorCatalogue = {
  // Malformed input (any channel)
  BAD_JSON: spec(400, null, 'message is not valid JSON'),
  BAD_MESSAGE: spec(400, null, 'message does not match the schema for its type'),
  UNKNOWN_TYPE: spec(400, null, 'unknown message type'),
  UNSUPPORTED_VERSION: spec(400, null, 'unsupported protocol version'),
  FRAME_TOO_LARGE: spec(413, CloseCode.MESSAGE_TOO_BIG, 'message exceeds the size limit'),
  // Broker: session requests
  NO_SERVER_AVAILABLE: spec(503, null, 'no healthy media server has room for this session'),
  RATE_LIMITED: spec(429, null, 'too many requests; retry after retryAfterMs'),
  TOO_MANY_IN_FLIGHT: spec(429, null, 'too many requests in flight on this connection'),
  TOO_MANY_CONNECTIONS: spec(
    429,
    CloseCode.RATE_LIMITED,
    'too many open connections from this address; close one or retry later',
  ),
  BAD_RESUME: spec(400, null, 'resume proof is not a ticket of this room within the resume window'),
  // Media: join and tickets
  TICKET_INVALID: spec(401, CloseCode.UNAUTHORIZED, 'ticket is malformed or its signature is not valid'),
  TICKET_EXPIRED: spec(401, CloseCode.UNAUTHORIZED, 'ticket has expired; ask the broker for a new one'),
  TICKET_REPLAYED: spec(401, CloseCode.UNAUTHORIZED, 'ticket was already used'),
  TICKET_WRONG_SERVER: spec(401, CloseCode.UNAUTHORIZED, 'ticket was issued for another server'),
  TICKET_WRONG_ROOM: spec(401, CloseCode.UNAUTHORIZED, 'ticket was issued for another room'),
  NOT_JOINED: spec(400, CloseCode.BAD_REQUEST, 'the first message on a media connection must be join'),
  ALREADY_JOINED: spec(400, null, 'this connection has already joined'),
  PEER_NOT_FOUND: spec(404, null, 'no such peer in this room'),
  ROOM_FULL: spec(403, CloseCode.BAD_REQUEST, 'room is full'),
  SERVER_FULL: spec(503, CloseCode.MIGRATE, 'server has no capacity left'),
  SERVER_DRAINING: spec(503, CloseCode.MIGRATE, 'server is draining; ask the broker for another'),
  JOIN_TIMEOUT: spec(408, CloseCode.IDLE_TIMEOUT, 'no join received in time'),
  IDLE_TIMEOUT: spec(408, CloseCode.IDLE_TIMEOUT, 'connection idle for too long'),
  SESSION_REPLACED: spec(409, CloseCode.CONFLICT, 'the same session joined on another connection'),
  // Control channel and admin
  UNAUTHORIZED: spec(401, CloseCode.UNAUTHORIZED, 'missing or invalid credentials'),
  FORBIDDEN_ORIGIN: spec(403, CloseCode.FORBIDDEN, 'origin not allowed'),
  ID_IN_USE: spec(409, CloseCode.CONFLICT, 'a live server already holds this id'),
  BAD_SERVER_URL: spec(
    400,
    CloseCode.BAD_REQUEST,
    'announced URL must be ws:// or wss:// without credentials',
  ),
  NOT_REGISTERED: spec(
    400,
    CloseCode.BAD_REQUEST,
    'the first message on the control channel must be register',
  ),
  NOT_FOUND: spec(404, null, 'not found'),
  INTERNAL: spec(500, CloseCode.INTERNAL_ERROR, 'internal error'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCatalogue;
export const ERROR_CODES = Object.keys(ErrorCatalogue) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCatalogue, value);
}

/** A typed error carrying a catalogue code; safe to show its message to a client. */
export class UsherError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly close: CloseCode | null;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    const entry = ErrorCatalogue[code];
    super(message ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UsherError';
    this.code = code;
    this.status = entry.status;
    this.close = entry.close;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
