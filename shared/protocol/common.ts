// Building blocks shared by the three channels' schemas: identifiers, limits and the
// error message. Every limit here is part of the wire contract (docs/PROTOCOL.md).
import Type, { type Static } from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';
import { PROTOCOL_VERSION } from '../version.ts';

/** Size limits, in bytes of one WebSocket frame or HTTP body. */
export const Limits = {
  /** client ↔ broker (session.request and replies). */
  brokerFrameBytes: 4 * 1024,
  /** client ↔ media (SDP offers with many codecs reach ~10 KiB). */
  mediaFrameBytes: 64 * 1024,
  /** media ↔ broker control channel (register carries the room list). */
  controlFrameBytes: 1024 * 1024,
  /** Longest SDP accepted in a signal. */
  sdpChars: 32 * 1024,
  /** Most servers a client may exclude in one request. */
  excludeMax: 16,
} as const;

export const Version = Type.Literal(PROTOCOL_VERSION);

/** Room names: URL- and log-safe, so they can appear in paths and metrics labels. */
export const RoomName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
/** Server ids: same alphabet as rooms. */
export const ServerId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
/** Session ids are issued by the broker (random, url-safe); also the peer id in a room. */
export const SessionId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** A client-chosen request correlation id. */
export const RequestId = Type.String({ minLength: 1, maxLength: 64 });
/** Display name shown to the other peers; free text, bounded. */
export const DisplayName = Type.String({ maxLength: 64 });
/** A signed ticket (compact JWS). */
export const Ticket = Type.String({ minLength: 1, maxLength: 2048 });
/** ws:// or wss:// URL that clients use to reach a media server. */
export const WsUrl = Type.String({ minLength: 6, maxLength: 512, pattern: '^wss?://' });

export const PingConfig = Type.Object(
  {
    /** How often the client sends `ping`. */
    intervalMs: Type.Integer({ minimum: 50, maximum: 60_000 }),
    /** No `pong` for this long ⇒ the server is declared gone. */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
  },
  { additionalProperties: false },
);

export const ErrorCodeSchema = Type.Unsafe<ErrorCode>({ type: 'string', enum: [...ERROR_CODES] });

/** Sent on every channel in answer to a request that failed. */
export const ErrorMessage = Type.Object(
  {
    type: Type.Literal('error'),
    v: Version,
    /** The id of the request this answers, or null when it cannot be known (bad JSON). */
    id: Type.Union([RequestId, Type.Null()]),
    code: ErrorCodeSchema,
    message: Type.String({ maxLength: 512 }),
    /** For RATE_LIMITED and similar: when a retry may succeed. */
    retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** For UNSUPPORTED_VERSION: the versions this peer speaks. */
    supported: Type.Optional(Type.Array(Type.Integer())),
  },
  { additionalProperties: false },
);
export type ErrorMessage = Static<typeof ErrorMessage>;
