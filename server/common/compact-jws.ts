// HS256 compact JWS, assembled and checked by hand: join tokens and webhook signatures
// are on request paths, and one synchronous HMAC is far cheaper than jose's async key
// import. Tests pin both directions to jose's reading of the same bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwsFailure = 'malformed' | 'invalid';

export type JwsRead =
  | { ok: true; kid: string; payload: Record<string, unknown> }
  | { ok: false; reason: JwsFailure };

/** `header.payload.signature` with header `{alg:"HS256",kid,typ}`; the payload is JSON text as given. */
export function signHs256(key: Uint8Array, kid: string, typ: string, payloadJson: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid, typ })).toString('base64url');
  const signingInput = `${header}.${Buffer.from(payloadJson).toString('base64url')}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/**
 * Read a token signed with HS256 by a key `keyFor(kid)` knows, of JWS type `typ`. The header
 * must be exactly that algorithm and type with a string `kid` and no `crit`, so `alg: none`,
 * algorithm confusion and another purpose's token fail before a key is used; the signature
 * is compared in constant time as the exact base64url text (no second spelling of the same
 * bytes passes). Only then is the payload parsed. `malformed`: not three base64url JSON
 * segments; `invalid`: anything about the header, key or signature.
 */
export function readHs256(
  token: string,
  typ: string,
  keyFor: (kid: string) => Uint8Array | undefined,
): JwsRead {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1)
    return { ok: false, reason: 'malformed' };
  const header = decodeSegment(token.slice(0, first));
  if (header === undefined) return { ok: false, reason: 'malformed' };
  if (header.alg !== 'HS256' || header.typ !== typ || typeof header.kid !== 'string' || 'crit' in header)
    return { ok: false, reason: 'invalid' };
  const key = keyFor(header.kid);
  if (key === undefined) return { ok: false, reason: 'invalid' };
  const expected = Buffer.from(createHmac('sha256', key).update(token.slice(0, second)).digest('base64url'));
  const given = Buffer.from(token.slice(second + 1));
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'invalid' };
  const payload = decodeSegment(token.slice(first + 1, second));
  if (payload === undefined) return { ok: false, reason: 'malformed' };
  return { ok: true, kid: header.kid, payload };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A base64url JSON object segment, or undefined when it is anything else (tickets use it too). */
export function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
