// The join token: what an application's backend signs (HS256, with an API key the broker
// knows) to let one user into one room or a family of rooms. The claims' one schema: the
// broker validates with it, the SDK and CLI build from it, docs/INTEGRATION.md describes it.
import Type, { type Static } from 'typebox';
import { DisplayName, RoomName } from './common.ts';

/** The JWS `typ` of a join token: a webhook's or ticket's JWT signed with the same key never passes. */
export const JOIN_TOKEN_TYPE = 'usher-join+jwt';

/** Longest join token accepted, in characters (a maximal one is about 1 KiB). */
export const JOIN_TOKEN_MAX_CHARS = 2048;

/** The application's user id: any printable text, bounded. */
export const Identity = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\x00-\\x1f\\x7f]+$' });

/**
 * A room-name prefix: the token admits every room whose name starts with it. Plain prefix,
 * no wildcards; end it with a separator (`team-42.`) so `team-4` does not admit `team-42`.
 */
export const RoomPrefix = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
});

export const JoinGrants = Type.Object(
  {
    /** May join the room (default true). */
    join: Type.Optional(Type.Boolean()),
    /** May send media (default true). */
    publish: Type.Optional(Type.Boolean()),
    /** May use the data channel (default true). */
    data: Type.Optional(Type.Boolean()),
    /** May move the room off its current server with `exclude` (default true: that is failover). */
    move: Type.Optional(Type.Boolean()),
    /** Room admin: may remove other participants (default false). */
    admin: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type JoinGrants = Static<typeof JoinGrants>;
export type JoinGrant = keyof JoinGrants;

/** What a grant is when the token leaves it out. */
export const DEFAULT_GRANTS: Readonly<Required<JoinGrants>> = Object.freeze({
  join: true,
  publish: true,
  data: true,
  move: true,
  admin: false,
});

const EpochSeconds = Type.Integer({ minimum: 0, maximum: 253402300799 });

/** The token's payload. Exactly one of `room` and `roomPrefix`; unknown claims are refused. */
export const JoinTokenClaims = Type.Object(
  {
    /** Identity: the application's user id; one session per identity in a room. */
    sub: Identity,
    /** Display name shown to the other members (default: the identity). */
    name: Type.Optional(DisplayName),
    /** The one room this token admits to. */
    room: Type.Optional(RoomName),
    /** Or: every room whose name starts with this. */
    roomPrefix: Type.Optional(RoomPrefix),
    /** Expiry, epoch seconds. */
    exp: EpochSeconds,
    /** Not before, epoch seconds. */
    nbf: Type.Optional(EpochSeconds),
    /** Issued at, epoch seconds (informational). */
    iat: Type.Optional(EpochSeconds),
    /** Token id, for the application's own bookkeeping. */
    jti: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Issuer, for the application's own bookkeeping (the signing key is the header's `kid`). */
    iss: Type.Optional(Type.String({ maxLength: 256 })),
    grants: Type.Optional(JoinGrants),
  },
  { additionalProperties: false },
);
export type JoinTokenClaims = Static<typeof JoinTokenClaims>;
