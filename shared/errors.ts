// The one catalogue of error codes Usher sends on any channel: each entry gives the
// HTTP status, the WebSocket close code (when the error ends the connection), what a client
// must do about it (its retry class) and the default message. Codes are stable wire strings:
// never reuse or rename one.

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

/**
 * What the receiver of an error must do, the one retry rule every client reads (the SDK, the
 * media server's control client, the bench):
 * - `never`: permanent; the same request fails again until something outside changes
 *   (a client bug, a refusal, a configuration error).
 * - `backoff`: transient; send the same request again after a jittered delay, and no sooner
 *   than the error's `retryAfterMs` when it has one.
 * - `other-server`: the server that answered cannot serve this session; exclude it and ask
 *   the broker again (after the same jittered delay).
 */
export const RetryClass = {
  NEVER: 'never',
  BACKOFF: 'backoff',
  OTHER_SERVER: 'other-server',
} as const;
export type RetryClass = (typeof RetryClass)[keyof typeof RetryClass];

interface ErrorSpec {
  readonly status: number;
  readonly close: CloseCode | null;
  readonly retry: RetryClass;
  readonly message: string;
}

function spec(status: number, close: CloseCode | null, retry: RetryClass, message: string): ErrorSpec {
  return { status, close, retry, message };
}

const { NEVER, BACKOFF, OTHER_SERVER } = RetryClass;

export const ErrorCatalogue = {
  // Malformed input (any channel)
  BAD_JSON: spec(400, null, NEVER, 'message is not valid JSON'),
  BAD_MESSAGE: spec(400, null, NEVER, 'message does not match the schema for its type'),
  UNKNOWN_TYPE: spec(400, null, NEVER, 'unknown message type'),
  UNSUPPORTED_VERSION: spec(400, null, NEVER, 'unsupported protocol version'),
  FRAME_TOO_LARGE: spec(413, CloseCode.MESSAGE_TOO_BIG, NEVER, 'message exceeds the size limit'),
  // Broker: session requests
  NO_SERVER_AVAILABLE: spec(503, null, BACKOFF, 'no healthy media server has room for this session'),
  RATE_LIMITED: spec(429, null, BACKOFF, 'too many requests; retry after retryAfterMs'),
  TOO_MANY_IN_FLIGHT: spec(429, null, BACKOFF, 'too many requests in flight on this connection'),
  TOO_MANY_CONNECTIONS: spec(
    429,
    CloseCode.RATE_LIMITED,
    BACKOFF,
    'too many open connections from this address; close one or retry later',
  ),
  BAD_RESUME: spec(400, null, BACKOFF, 'resume proof is not a ticket of this room within the resume window'),
  // Media: join and tickets
  TICKET_INVALID: spec(
    401,
    CloseCode.UNAUTHORIZED,
    OTHER_SERVER,
    'ticket is malformed or its signature is not valid',
  ),
  TICKET_EXPIRED: spec(
    401,
    CloseCode.UNAUTHORIZED,
    BACKOFF,
    'ticket has expired; ask the broker for a new one',
  ),
  TICKET_REPLAYED: spec(401, CloseCode.UNAUTHORIZED, BACKOFF, 'ticket was already used'),
  TICKET_WRONG_SERVER: spec(401, CloseCode.UNAUTHORIZED, BACKOFF, 'ticket was issued for another server'),
  TICKET_WRONG_ROOM: spec(401, CloseCode.UNAUTHORIZED, BACKOFF, 'ticket was issued for another room'),
  NOT_JOINED: spec(400, CloseCode.BAD_REQUEST, NEVER, 'the first message on a media connection must be join'),
  ALREADY_JOINED: spec(400, null, NEVER, 'this connection has already joined'),
  PEER_NOT_FOUND: spec(404, null, NEVER, 'no such peer in this room'),
  ROOM_FULL: spec(403, CloseCode.BAD_REQUEST, NEVER, 'room is full'),
  SERVER_FULL: spec(503, CloseCode.MIGRATE, OTHER_SERVER, 'server has no capacity left'),
  SERVER_DRAINING: spec(
    503,
    CloseCode.MIGRATE,
    OTHER_SERVER,
    'server is draining; ask the broker for another',
  ),
  JOIN_TIMEOUT: spec(408, CloseCode.IDLE_TIMEOUT, BACKOFF, 'no join received in time'),
  IDLE_TIMEOUT: spec(408, CloseCode.IDLE_TIMEOUT, BACKOFF, 'connection idle for too long'),
  SESSION_REPLACED: spec(
    409,
    CloseCode.CONFLICT,
    NEVER,
    'the same session, or another session of the same identity, joined this room on another connection',
  ),
  // The server API: the application removed this participant (or closed its room); the
  // conflict close code keeps today's clients from failing over back into the room.
  PARTICIPANT_REMOVED: spec(
    403,
    CloseCode.CONFLICT,
    NEVER,
    'the application removed this participant from the room; do not rejoin',
  ),
  // Control channel and admin
  UNAUTHORIZED: spec(401, CloseCode.UNAUTHORIZED, NEVER, 'missing or invalid credentials'),
  FORBIDDEN_ORIGIN: spec(403, CloseCode.FORBIDDEN, NEVER, 'origin not allowed'),
  ID_IN_USE: spec(409, CloseCode.CONFLICT, BACKOFF, 'a live server already holds this id'),
  BAD_SERVER_URL: spec(
    400,
    CloseCode.BAD_REQUEST,
    NEVER,
    'announced URL must be ws:// or wss:// without credentials',
  ),
  NOT_REGISTERED: spec(
    400,
    CloseCode.BAD_REQUEST,
    NEVER,
    'the first message on the control channel must be register',
  ),
  NOT_FOUND: spec(404, null, NEVER, 'not found'),
  INTERNAL: spec(500, CloseCode.INTERNAL_ERROR, BACKOFF, 'internal error'),
  // Admission: join tokens
  TOKEN_MISSING: spec(401, null, NEVER, 'a join token from the application is required'),
  TOKEN_MALFORMED: spec(401, null, NEVER, 'join token is not a compact JWS with the documented claims'),
  TOKEN_EXPIRED: spec(
    401,
    null,
    NEVER,
    'join token has expired or is not valid yet; ask the application for a new one',
  ),
  TOKEN_INVALID: spec(401, null, NEVER, 'join token signature, algorithm, type or key id is not valid'),
  TOKEN_WRONG_ROOM: spec(403, null, NEVER, 'join token was issued for another room'),
  TOKEN_FORBIDDEN: spec(403, null, NEVER, 'join token does not grant this action'),
  // Admission: webhooks (what verifyWebhook throws in the application's backend)
  WEBHOOK_INVALID: spec(
    401,
    null,
    NEVER,
    'webhook Authorization is missing, malformed or not signed by a known API key',
  ),
  WEBHOOK_BODY_MISMATCH: spec(401, null, NEVER, 'webhook body does not match the sha256 in its signature'),
  WEBHOOK_STALE: spec(401, null, NEVER, 'webhook signature is outside the accepted time window'),
  WEBHOOK_REPLAYED: spec(409, null, NEVER, 'webhook event id was already received'),
  // Server API (the application's backend, bearer server token)
  SERVER_TOKEN_INVALID: spec(
    401,
    null,
    NEVER,
    'server API needs Authorization: Bearer <server token> signed with a current API key, unexpired',
  ),
  ROOM_NOT_FOUND: spec(404, null, NEVER, 'no live room of that name'),
  PARTICIPANT_NOT_FOUND: spec(404, null, NEVER, 'no participant with that identity in the room'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCatalogue;
export const ERROR_CODES = Object.keys(ErrorCatalogue) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCatalogue, value);
}

/** The catalogue's retry class of a code (what to do when a peer answers with it). */
export function retryClassOf(code: ErrorCode): RetryClass {
  return ErrorCatalogue[code].retry;
}

/** A typed error carrying a catalogue code; safe to show its message to a client. */
export class UsherError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly close: CloseCode | null;
  readonly retry: RetryClass;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    const entry = ErrorCatalogue[code];
    super(message ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UsherError';
    this.code = code;
    this.status = entry.status;
    this.close = entry.close;
    this.retry = entry.retry;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
