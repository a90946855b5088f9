// The shared secret between broker and media servers, and the purpose-bound keys
// derived from it. Rotation without downtime: USHER_SECRET may list several
// `kid:secret` pairs; the first signs, all verify, so servers can be rolled one by one.
import { createHash, hkdfSync } from 'node:crypto';
import { UsherConfigError } from './config-error.ts';

export const MIN_SECRET_LENGTH = 16;

/** What a derived key is for: a key for one purpose never verifies another's tokens. */
export type KeyPurpose = 'ticket' | 'control' | 'redirect';

export interface SecretKey {
  readonly kid: string;
  readonly secret: string;
}

export interface KeyRing {
  /** The key that signs new tokens. */
  readonly current: SecretKey;
  /** Derived key bytes for `purpose` under `kid`, or undefined for an unknown kid. */
  derive(purpose: KeyPurpose, kid: string): Uint8Array | undefined;
  readonly kids: readonly string[];
}

/**
 * Parse `USHER_SECRET`: either one secret (kid derived from its hash), or a
 * comma-separated list of `kid:secret`. Throws UsherConfigError with a message that
 * names the problem, never the secret.
 */
export function parseSecret(raw: string | undefined, envName = 'USHER_SECRET'): KeyRing {
  if (raw === undefined || raw.trim() === '') {
    throw new UsherConfigError(
      `${envName} is not set: broker and media servers need the same shared secret (at least ${MIN_SECRET_LENGTH} characters). ` +
        "Generate one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"",
    );
  }
  const keys = parseKeyList(raw, envName);
  const byKid = new Map(keys.map((key) => [key.kid, key.secret]));
  // purpose → kid → key: looked up on every ticket, so no string keys built per call.
  const cache = new Map<KeyPurpose, Map<string, Uint8Array>>();
  return {
    current: keys[0]!,
    kids: keys.map((key) => key.kid),
    derive(purpose, kid) {
      let byPurpose = cache.get(purpose);
      if (byPurpose === undefined) {
        byPurpose = new Map();
        cache.set(purpose, byPurpose);
      }
      const hit = byPurpose.get(kid);
      if (hit !== undefined) return hit;
      const secret = byKid.get(kid);
      if (secret === undefined) return undefined;
      const derived = new Uint8Array(hkdfSync('sha256', secret, 'usher', `usher/${purpose}/v1`, 32));
      byPurpose.set(kid, derived);
      return derived;
    },
  };
}

/**
 * The `kid:secret,kid2:secret2` list of a rotation env variable, first key first. Without
 * `requireKid` a part that is a bare secret gets a kid derived from its hash. Throws
 * UsherConfigError naming the key id, never the secret.
 */
export function parseKeyList(
  raw: string,
  envName: string,
  options: { requireKid?: boolean; minSecretLength?: number } = {},
): SecretKey[] {
  const minLength = options.minSecretLength ?? MIN_SECRET_LENGTH;
  const parts = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  const keys: SecretKey[] = parts.map((part, index) => {
    const colon = part.indexOf(':');
    const hasKid = colon > 0 && KID_PATTERN.test(part.slice(0, colon));
    if (!hasKid && options.requireKid === true) {
      throw new UsherConfigError(
        `${envName}: entry ${index + 1} is not "keyId:secret" (key ids: 1-32 of A-Z a-z 0-9 . _ -)`,
      );
    }
    const kid = hasKid ? part.slice(0, colon) : defaultKid(part);
    const secret = hasKid ? part.slice(colon + 1) : part;
    if (secret.length < minLength) {
      throw new UsherConfigError(`${envName}: key "${kid}" is shorter than ${minLength} characters`);
    }
    return { kid, secret };
  });
  if (keys.length === 0) throw new UsherConfigError(`${envName} lists no key`);
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.kid)) throw new UsherConfigError(`${envName}: key id "${key.kid}" appears twice`);
    seen.add(key.kid);
  }
  return keys;
}

const KID_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;

function defaultKid(secret: string): string {
  return `k${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;
}
