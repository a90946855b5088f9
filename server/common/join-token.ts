// Join tokens: the application's backend says who may join which room, signed with an API
// key the broker knows (HS256, header `kid` = key id, several keys at once for rotation).
// The broker verifies one per session request, synchronously (see compact-jws.ts).
import { Compile } from 'typebox/compile';
import { UsherError } from '../../shared/errors.ts';
import {
  DEFAULT_GRANTS,
  JOIN_TOKEN_MAX_CHARS,
  JOIN_TOKEN_TYPE,
  type JoinGrant,
  type JoinGrants,
  JoinTokenClaims,
} from '../../shared/protocol/join-token.ts';
import { readHs256, signHs256 } from './compact-jws.ts';
import { UsherConfigError } from './config-error.ts';
import { parseKeyList } from './keys.ts';

/**
 * Shortest API key secret: a join token reaches browsers, so anyone can try to guess its
 * HMAC key offline; 32 random characters make that hopeless, 16 would not.
 */
export const MIN_API_SECRET_LENGTH = 32;
/** Allowed clock skew between the application's backend and the broker. */
export const JOIN_CLOCK_TOLERANCE_S = 5;
const API_KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;

export interface ApiKey {
  readonly id: string;
  readonly secret: string;
}

/**
 * The broker's API keys (`USHER_API_KEYS="keyId:secret,keyId2:secret2"`): every listed key
 * verifies, the first signs what the broker itself signs (webhooks, `usher token`'s default).
 * The secret is the HMAC key as written: the application signs with the same string.
 */
export class ApiKeys {
  readonly current: ApiKey;
  readonly ids: readonly string[];
  private readonly byId: Map<string, { key: ApiKey; bytes: Uint8Array }>;

  constructor(keys: readonly ApiKey[]) {
    if (keys.length === 0) throw new UsherConfigError('API keys: at least one key is needed');
    this.byId = new Map();
    for (const key of keys) {
      if (!API_KEY_ID.test(key.id))
        throw new UsherConfigError(`API key id "${key.id}" is not 1-32 of A-Z a-z 0-9 . _ -`);
      if (key.secret.length < MIN_API_SECRET_LENGTH)
        throw new UsherConfigError(`API key "${key.id}" is shorter than ${MIN_API_SECRET_LENGTH} characters`);
      if (this.byId.has(key.id)) throw new UsherConfigError(`API key id "${key.id}" appears twice`);
      this.byId.set(key.id, { key, bytes: Buffer.from(key.secret, 'utf8') });
    }
    this.current = keys[0]!;
    this.ids = keys.map((key) => key.id);
  }

  /** Parse the rotation form; throws UsherConfigError naming the problem, never a secret. */
  static parse(raw: string | undefined, envName = 'USHER_API_KEYS'): ApiKeys {
    if (raw === undefined || raw.trim() === '') {
      throw new UsherConfigError(
        `${envName} is not set: list the API keys the application signs join tokens with, as "keyId:secret" ` +
          `(secrets at least ${MIN_API_SECRET_LENGTH} characters). Generate a secret with: ` +
          "node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"",
      );
    }
    const keys = parseKeyList(raw, envName, { requireKid: true, minSecretLength: MIN_API_SECRET_LENGTH });
    return new ApiKeys(keys.map(({ kid, secret }) => ({ id: kid, secret })));
  }

  get(id: string): ApiKey | undefined {
    return this.byId.get(id)?.key;
  }

  /** The HMAC key bytes of `id`, or undefined for a key that is not (or no longer) listed. */
  secretBytes(id: string): Uint8Array | undefined {
    return this.byId.get(id)?.bytes;
  }
}

/** A verified token, with every grant spelled out. */
export interface VerifiedJoinToken {
  /** The API key that signed it. */
  keyId: string;
  identity: string;
  /** The token's `name`, or the identity when it has none. */
  name: string;
  /** Exactly one of these two is set. */
  room: string | undefined;
  roomPrefix: string | undefined;
  grants: Required<JoinGrants>;
  /** Epoch seconds. */
  exp: number;
  jti: string | undefined;
}

const checkClaims = Compile(JoinTokenClaims);

/**
 * Verify a join token for `room`: signature (HS256 with a listed key, `typ`
 * `usher-join+jwt`), claims, validity window (±5 s of skew), room, and the join grant.
 * Throws UsherError TOKEN_MISSING | TOKEN_MALFORMED | TOKEN_INVALID | TOKEN_EXPIRED |
 * TOKEN_WRONG_ROOM | TOKEN_FORBIDDEN and nothing else, whatever the input.
 */
export function verifyJoinToken(
  keys: ApiKeys,
  token: string | undefined,
  room: string,
  now = Date.now(),
): VerifiedJoinToken {
  if (typeof token !== 'string' || token.length === 0) throw new UsherError('TOKEN_MISSING');
  if (token.length > JOIN_TOKEN_MAX_CHARS)
    throw new UsherError('TOKEN_MALFORMED', `join token is longer than ${JOIN_TOKEN_MAX_CHARS} characters`);
  const read = readHs256(token, JOIN_TOKEN_TYPE, (kid) => keys.secretBytes(kid));
  if (!read.ok) throw new UsherError(read.reason === 'malformed' ? 'TOKEN_MALFORMED' : 'TOKEN_INVALID');
  const claims = read.payload;
  if (!checkClaims.Check(claims)) throw new UsherError('TOKEN_MALFORMED', claimsProblem(claims));
  if ((claims.room === undefined) === (claims.roomPrefix === undefined))
    throw new UsherError('TOKEN_MALFORMED', 'join token must carry exactly one of room and roomPrefix');
  const nowSeconds = now / 1000;
  if (claims.exp + JOIN_CLOCK_TOLERANCE_S <= nowSeconds) throw new UsherError('TOKEN_EXPIRED');
  if (claims.nbf !== undefined && claims.nbf - JOIN_CLOCK_TOLERANCE_S > nowSeconds)
    throw new UsherError('TOKEN_EXPIRED', 'join token is not valid yet (nbf)');
  if (claims.room !== undefined ? claims.room !== room : !room.startsWith(claims.roomPrefix!))
    throw new UsherError('TOKEN_WRONG_ROOM');
  const grants = { ...DEFAULT_GRANTS, ...claims.grants };
  if (!grants.join) throw new UsherError('TOKEN_FORBIDDEN', 'join token does not grant join');
  return {
    keyId: read.kid,
    identity: claims.sub,
    name: claims.name ?? claims.sub,
    room: claims.room,
    roomPrefix: claims.roomPrefix,
    grants,
    exp: claims.exp,
    jti: claims.jti,
  };
}

/** Throws UsherError('TOKEN_FORBIDDEN') unless the verified token grants `grant`. */
export function requireGrant(token: VerifiedJoinToken, grant: JoinGrant): void {
  if (!token.grants[grant]) throw new UsherError('TOKEN_FORBIDDEN', `join token does not grant ${grant}`);
}

export interface JoinTokenInput {
  /** Exactly one of room and roomPrefix. */
  room?: string;
  roomPrefix?: string;
  identity: string;
  name?: string;
  ttlSeconds: number;
  /** Only what differs from DEFAULT_GRANTS needs saying; given grants are written as given. */
  grants?: JoinGrants;
  jti?: string;
  /** Epoch seconds before which the token is refused. */
  notBefore?: number;
}

/**
 * Sign a join token with `key`. Throws UsherError('TOKEN_MALFORMED') naming the field when
 * the input would make a token the broker refuses (a bad room name, a long identity, …).
 */
export function signJoinToken(key: ApiKey, input: JoinTokenInput, now = Date.now()): string {
  if (!API_KEY_ID.test(key.id))
    throw new UsherError('TOKEN_MALFORMED', 'API key id must be 1-32 of A-Z a-z 0-9 . _ -');
  if (key.secret.length < MIN_API_SECRET_LENGTH)
    throw new UsherError(
      'TOKEN_MALFORMED',
      `API key secret must be at least ${MIN_API_SECRET_LENGTH} characters`,
    );
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0)
    throw new UsherError('TOKEN_MALFORMED', 'ttlSeconds must be a positive integer');
  const iat = Math.floor(now / 1000);
  const claims: Record<string, unknown> = { sub: input.identity };
  if (input.name !== undefined) claims.name = input.name;
  if (input.room !== undefined) claims.room = input.room;
  if (input.roomPrefix !== undefined) claims.roomPrefix = input.roomPrefix;
  if (input.grants !== undefined) claims.grants = input.grants;
  claims.iat = iat;
  if (input.notBefore !== undefined) claims.nbf = input.notBefore;
  claims.exp = iat + input.ttlSeconds;
  if (input.jti !== undefined) claims.jti = input.jti;
  if (!checkClaims.Check(claims)) throw new UsherError('TOKEN_MALFORMED', claimsProblem(claims));
  if ((input.room === undefined) === (input.roomPrefix === undefined))
    throw new UsherError('TOKEN_MALFORMED', 'give exactly one of room and roomPrefix');
  return signHs256(Buffer.from(key.secret, 'utf8'), key.id, JOIN_TOKEN_TYPE, JSON.stringify(claims));
}

/** Where the claims fail their schema; never the value (it may be anything). */
function claimsProblem(claims: unknown): string {
  const first = checkClaims.Errors(claims)[0];
  const where =
    first === undefined || first.instancePath === '' ? '' : ` at ${first.instancePath.slice(0, 64)}`;
  return `join token claims${where}: ${first?.message ?? 'schema mismatch'}`;
}
