// The server API's bearer token: a short-lived HS256 JWS (typ `usher-server+jwt`) that the
// application's backend signs with one of its API keys. Its own type, so neither a join token
// nor a webhook signature made with the same key is ever accepted here, nor this one there.

import { UsherError } from '../../shared/errors.ts';
import { SERVER_TOKEN_TYPE } from '../../shared/protocol/server-api.ts';
import { readHs256, signHs256 } from './compact-jws.ts';
import type { ApiKey, ApiKeys } from './join-token.ts';

/** Longest lifetime a server token may claim: a leaked one is worthless within the hour. */
export const MAX_SERVER_TOKEN_TTL_S = 3600;
/** Default lifetime of a minted server token. */
export const DEFAULT_SERVER_TOKEN_TTL_S = 300;
/** Clock difference tolerated between the application and the broker. */
const CLOCK_TOLERANCE_S = 5;
const MAX_TOKEN_CHARS = 1024;

/** `{iat, exp}` signed with the key (header kid = key id). */
export function signServerToken(
  key: ApiKey,
  ttlSeconds = DEFAULT_SERVER_TOKEN_TTL_S,
  now = Date.now(),
): string {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_SERVER_TOKEN_TTL_S)
    throw new UsherError('SERVER_TOKEN_INVALID', `server token ttl must be 1 to ${MAX_SERVER_TOKEN_TTL_S} s`);
  const iat = Math.floor(now / 1000);
  return signHs256(
    Buffer.from(key.secret, 'utf8'),
    key.id,
    SERVER_TOKEN_TYPE,
    `{"iat":${iat},"exp":${iat + ttlSeconds}}`,
  );
}

/**
 * The key id of a valid server token in an `Authorization: Bearer` header; throws
 * UsherError SERVER_TOKEN_INVALID for a missing, malformed, foreign, expired or over-long one.
 */
export function verifyServerToken(
  keys: ApiKeys,
  authorization: string | undefined,
  now = Date.now(),
): string {
  const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  const token = match?.[1];
  if (token === undefined || token.length > MAX_TOKEN_CHARS) throw new UsherError('SERVER_TOKEN_INVALID');
  const read = readHs256(token, SERVER_TOKEN_TYPE, (kid) => keys.secretBytes(kid));
  if (!read.ok) throw new UsherError('SERVER_TOKEN_INVALID');
  const { iat, exp } = read.payload;
  if (!Number.isInteger(iat) || !Number.isInteger(exp)) throw new UsherError('SERVER_TOKEN_INVALID');
  const nowS = now / 1000;
  const issued = iat as number;
  const expires = exp as number;
  if (expires <= issued || expires - issued > MAX_SERVER_TOKEN_TTL_S)
    throw new UsherError('SERVER_TOKEN_INVALID', 'server token lifetime must be at most an hour');
  if (issued > nowS + CLOCK_TOLERANCE_S || expires <= nowS - CLOCK_TOLERANCE_S)
    throw new UsherError('SERVER_TOKEN_INVALID', 'server token has expired or is not valid yet');
  return read.kid;
}
