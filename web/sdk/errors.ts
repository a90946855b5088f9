// The one error class the SDK throws and emits: either a catalogue code a server sent
// (shared/errors.ts) or a client-side code for failures that never got a server's answer.
import { type ErrorCode, isErrorCode, type RetryClass, retryClassOf } from '../../shared/errors.ts';
import type { ErrorMessage } from '../../shared/protocol/common.ts';

/** Codes the client raises itself; disjoint from the wire catalogue. */
export const ClientErrorCode = {
  /** The broker's WebSocket could not be opened, or closed with requests pending. */
  BROKER_UNREACHABLE: 'BROKER_UNREACHABLE',
  /** The assigned media server's WebSocket could not be opened or closed before `joined`. */
  MEDIA_UNREACHABLE: 'MEDIA_UNREACHABLE',
  /** No answer within the deadline. */
  TIMEOUT: 'TIMEOUT',
  /** A reply that is not the message the protocol promises. */
  BAD_REPLY: 'BAD_REPLY',
  /** The broker assigned a server the client had just excluded as dead. */
  SAME_SERVER: 'SAME_SERVER',
  /** The seat confirmation does not name the server the broker assigned: that server is not dialed. */
  SEAT_MISMATCH: 'SEAT_MISMATCH',
  /** The caller left while the operation was in flight. */
  ABORTED: 'ABORTED',
  /** The reconnect policy gave up. */
  GAVE_UP: 'GAVE_UP',
  /** The call is not allowed in the object's current state (e.g. join twice). */
  INVALID_STATE: 'INVALID_STATE',
} as const;
export type ClientErrorCode = keyof typeof ClientErrorCode;
export type UsherClientErrorCode = ErrorCode | ClientErrorCode;

/** What to do after each client-side code, in the catalogue's terms (shared/errors.ts). A TIMEOUT
 *  names no server when the broker was the one not answering: then it is a plain backoff. */
const CLIENT_RETRY: Readonly<Record<ClientErrorCode, RetryClass>> = {
  BROKER_UNREACHABLE: 'backoff',
  MEDIA_UNREACHABLE: 'other-server',
  TIMEOUT: 'other-server',
  BAD_REPLY: 'backoff',
  SAME_SERVER: 'backoff',
  SEAT_MISMATCH: 'other-server',
  ABORTED: 'never',
  GAVE_UP: 'never',
  INVALID_STATE: 'never',
};

/** The retry class of any code the SDK raises or receives. */
export function retryClassOfClientCode(code: UsherClientErrorCode): RetryClass {
  return isErrorCode(code) ? retryClassOf(code) : CLIENT_RETRY[code];
}

export class UsherClientError extends Error {
  readonly code: UsherClientErrorCode;
  /** From the server's `retryAfterMs` (RATE_LIMITED and similar). */
  readonly retryAfterMs: number | undefined;
  /** WebSocket close code, when the error came from a close. */
  readonly closeCode: number | undefined;

  constructor(
    code: UsherClientErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; closeCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UsherClientError';
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
    this.closeCode = options?.closeCode;
  }

  /** What a client must do about this error (shared/errors.ts's retry classes). */
  get retry(): RetryClass {
    return retryClassOfClientCode(this.code);
  }

  /** Whether the same operation may succeed later (false for client bugs, refusals, give-up). */
  get retryable(): boolean {
    return this.retry !== 'never';
  }

  static fromWire(msg: Pick<ErrorMessage, 'code' | 'message' | 'retryAfterMs'>): UsherClientError {
    const code: UsherClientErrorCode = isErrorCode(msg.code) ? msg.code : 'BAD_REPLY';
    const options = msg.retryAfterMs === undefined ? undefined : { retryAfterMs: msg.retryAfterMs };
    return new UsherClientError(code, String(msg.message ?? code).slice(0, 512), options);
  }

  static timeout(what: string, ms: number): UsherClientError {
    return new UsherClientError('TIMEOUT', `${what}: no answer within ${ms} ms`);
  }

  static brokerUnreachable(detail: string, closeCode?: number): UsherClientError {
    return new UsherClientError(
      'BROKER_UNREACHABLE',
      `broker unreachable: ${detail}`,
      closeCode === undefined ? undefined : { closeCode },
    );
  }

  static mediaUnreachable(detail: string, closeCode?: number): UsherClientError {
    return new UsherClientError(
      'MEDIA_UNREACHABLE',
      `media server unreachable: ${detail}`,
      closeCode === undefined ? undefined : { closeCode },
    );
  }

  static badReply(detail: string): UsherClientError {
    return new UsherClientError('BAD_REPLY', `unexpected reply: ${detail}`);
  }

  static sameServer(serverId: string): UsherClientError {
    return new UsherClientError('SAME_SERVER', `broker assigned excluded server ${serverId}`);
  }

  static seatMismatch(serverId: string, detail: string): UsherClientError {
    return new UsherClientError(
      'SEAT_MISMATCH',
      `the seat confirmation for server ${serverId} ${detail}; not dialing it`,
    );
  }

  static aborted(): UsherClientError {
    return new UsherClientError('ABORTED', 'the session was left');
  }

  /** The reconnect policy gave up; the message names the last failure, so the app can say why. */
  static gaveUp(
    what: 'joining' | 'reconnecting',
    elapsedMs: number,
    last?: UsherClientError,
  ): UsherClientError {
    const why = last === undefined ? '' : `; last error ${last.code}: ${last.message}`;
    return new UsherClientError('GAVE_UP', `gave up ${what} after ${Math.round(elapsedMs)} ms${why}`, {
      cause: last,
    });
  }

  /** Wrap anything thrown into an UsherClientError (keeping it as `cause`). */
  static from(error: unknown): UsherClientError {
    if (error instanceof UsherClientError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new UsherClientError('BAD_REPLY', message, { cause: error });
  }
}
