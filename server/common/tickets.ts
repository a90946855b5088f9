// Tickets: the broker's signed permission for one session to join one room on one
// media server, once, within seconds — and, later, the client's proof that it owns that
// session when it fails over. Also the control-channel token (media → broker). Both HS256
// with keys derived per purpose, so a token minted for one purpose never passes as another.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type JWTVerifyGetKey, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UsherError } from '../../shared/errors.ts';
import { decodeSegment } from './compact-jws.ts';
import type { KeyPurpose, KeyRing } from './keys.ts';

export const TICKET_TYPE = 'usher-ticket+jwt';
export const CONTROL_TYPE = 'usher-control+jwt';
const ISSUER = 'usher';
export const CONTROL_AUDIENCE = 'usher-control';
/** Allowed clock skew between broker and media servers. */
const CLOCK_TOLERANCE_S = 2;

export interface TicketClaims {
  sessionId: string;
  room: string;
  serverId: string;
  name: string;
  /** Unique ticket id, remembered by the media server until expiry (single use). */
  jti: string;
  /** Epoch seconds. */
  exp: number;
  /** The application's user id from the join token; in open mode, the session id. */
  identity: string;
  /** What the session may do (from the join token; everything but admin in open mode). */
  grants: TicketGrants;
}

/** The join token's grants a ticket carries: the media server reads publish, data and admin;
 *  the broker reads move from a resume proof. */
export interface TicketGrants {
  publish: boolean;
  data: boolean;
  move: boolean;
  admin: boolean;
}

/** What a session may do when no join token says otherwise (open mode, older tickets). */
export const OPEN_GRANTS: Readonly<TicketGrants> = Object.freeze({
  publish: true,
  data: true,
  move: true,
  admin: false,
});

// Random ids are minted twice per session request; one randomBytes call per id costs far
// more than a slice, so ids are cut from a pooled 4 KiB block of the same CSPRNG output.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

export function randomId(bytes = 12): string {
  if (bytes > POOL_SIZE) return randomBytes(bytes).toString('base64url');
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return id;
}

function keyResolver(keys: KeyRing, purpose: KeyPurpose): JWTVerifyGetKey {
  return (header) => {
    const key = header.kid === undefined ? undefined : keys.derive(purpose, header.kid);
    if (key === undefined) throw new joseErrors.JWSSignatureVerificationFailed('unknown key id');
    return key;
  };
}

/**
 * Sign a ticket. This is on the broker's hot path (one per session request), so the
 * compact JWS is assembled directly with one HMAC instead of through jose's async key
 * import (far slower: docs/PERFORMANCE.md); `verifyTicket` below is its synchronous counterpart, and
 * tests pin both to jose's reading of the same tokens.
 */
export function signTicket(
  keys: KeyRing,
  input: {
    sessionId: string;
    room: string;
    serverId: string;
    name: string;
    ttlSeconds: number;
    /** Default: the session id (open mode). */
    identity?: string;
    /** Default: OPEN_GRANTS. */
    grants?: TicketGrants;
  },
  now = Date.now(),
): { ticket: string; claims: TicketClaims } {
  const iat = Math.floor(now / 1000);
  const claims: TicketClaims = {
    sessionId: input.sessionId,
    room: input.room,
    serverId: input.serverId,
    name: input.name,
    jti: randomId(),
    exp: iat + input.ttlSeconds,
    identity: input.identity ?? input.sessionId,
    grants: input.grants ?? OPEN_GRANTS,
  };
  const kid = keys.current.kid;
  // The payload's JSON written out (every string through JSON.stringify, so it is the same
  // text JSON.stringify of the object would give), cheaper per request than building and
  // serialising an object.
  const payload =
    `{"room":${JSON.stringify(claims.room)},"name":${JSON.stringify(claims.name)},"iss":"${ISSUER}",` +
    `"aud":${JSON.stringify(claims.serverId)},"sub":${JSON.stringify(claims.sessionId)},` +
    `"jti":${JSON.stringify(claims.jti)},"iat":${iat},"exp":${claims.exp}` +
    // Open mode's identity is the session id: left out, the reader defaults it.
    (input.identity === undefined ? '' : `,"idn":${JSON.stringify(input.identity)}`) +
    (input.grants === undefined ? '' : `,"grt":"${grantLetters(input.grants)}"`) +
    '}';
  const signingInput = `${ticketHeader(kid)}.${Buffer.from(payload).toString('base64url')}`;
  const signature = createHmac('sha256', keys.derive('ticket', kid)!)
    .update(signingInput)
    .digest('base64url');
  return { ticket: `${signingInput}.${signature}`, claims };
}

/** Grants as letters (p publish, d data, m move, a admin): short, and one fixed order. */
export function grantLetters(grants: TicketGrants): string {
  return `${grants.publish ? 'p' : ''}${grants.data ? 'd' : ''}${grants.move ? 'm' : ''}${grants.admin ? 'a' : ''}`;
}

export function grantsOf(letters: unknown): TicketGrants {
  if (typeof letters !== 'string') return OPEN_GRANTS;
  return {
    publish: letters.includes('p'),
    data: letters.includes('d'),
    move: letters.includes('m'),
    admin: letters.includes('a'),
  };
}

const headerCache = new Map<string, string>();
function ticketHeader(kid: string): string {
  let header = headerCache.get(kid);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: 'HS256', kid, typ: TICKET_TYPE })).toString('base64url');
    headerCache.set(kid, header);
  }
  return header;
}

/** A ticket whose signature and claims are sound, read before the checks of one use. */
interface SignedTicket {
  sessionId: string;
  room: string;
  name: string;
  jti: string;
  /** Epoch seconds. */
  exp: number;
  /** Epoch seconds the broker signed it; required only of a resume proof. */
  iat: number | undefined;
  /** The media server ids it admits to (`aud`). */
  audience: unknown[];
  identity: string;
  grants: TicketGrants;
}

/**
 * Read a ticket signed by this fleet: the header must be exactly HS256 with our `typ` and a
 * known `kid` (so `alg: none` and algorithm confusion are refused before any key is used),
 * the MAC is compared in constant time, then the issuer and the required claims. Throws
 * UsherError('TICKET_INVALID'); expiry and audience are the caller's to check. One
 * synchronous HMAC: jose's async WebCrypto path was a large share of a media server's CPU
 * under join load (docs/PERFORMANCE.md).
 */
function readTicket(keys: KeyRing, ticket: string): SignedTicket {
  const first = ticket.indexOf('.');
  const second = ticket.indexOf('.', first + 1);
  if (
    first <= 0 ||
    second <= first + 1 ||
    second === ticket.length - 1 ||
    ticket.indexOf('.', second + 1) !== -1
  ) {
    throw new UsherError('TICKET_INVALID');
  }
  const header = decodeSegment(ticket.slice(0, first));
  if (
    header === undefined ||
    header.alg !== 'HS256' ||
    header.typ !== TICKET_TYPE ||
    typeof header.kid !== 'string'
  ) {
    throw new UsherError('TICKET_INVALID');
  }
  const key = keys.derive('ticket', header.kid);
  if (key === undefined) throw new UsherError('TICKET_INVALID');
  const expected = createHmac('sha256', key).update(ticket.slice(0, second)).digest();
  const given = Buffer.from(ticket.slice(second + 1), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new UsherError('TICKET_INVALID');
  const payload = decodeSegment(ticket.slice(first + 1, second));
  if (payload === undefined) throw new UsherError('TICKET_INVALID');
  const { room, name, sub, jti, exp, iat, iss, aud, idn, grt } = payload;
  if (
    iss !== ISSUER ||
    typeof room !== 'string' ||
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof exp !== 'number' ||
    (iat !== undefined && typeof iat !== 'number') ||
    (typeof aud !== 'string' && !Array.isArray(aud)) ||
    (idn !== undefined && typeof idn !== 'string')
  ) {
    throw new UsherError('TICKET_INVALID');
  }
  return {
    sessionId: sub,
    room,
    name: typeof name === 'string' ? name : '',
    jti,
    exp,
    iat,
    audience: Array.isArray(aud) ? aud : [aud],
    identity: typeof idn === 'string' ? idn : sub,
    grants: grantsOf(grt),
  };
}

/**
 * Verify a ticket for this server, as the media server does once per join. Throws
 * UsherError with a TICKET_* code.
 */
export function verifyTicket(
  keys: KeyRing,
  ticket: string,
  serverId: string,
  now = Date.now(),
): TicketClaims {
  const { sessionId, room, name, jti, exp, audience, identity, grants } = readTicket(keys, ticket);
  if (exp * 1000 + CLOCK_TOLERANCE_S * 1000 <= now) throw new UsherError('TICKET_EXPIRED');
  if (!audience.includes(serverId)) throw new UsherError('TICKET_WRONG_SERVER');
  return { sessionId, room, serverId, name, jti, exp, identity, grants };
}

/**
 * The session a failover may keep: a client proves it owns a session id with the last
 * ticket the broker gave it for that room. The ticket's own expiry does not apply (it was
 * used long ago, to join); the proof is good for `maxAgeSeconds` after the broker signed it,
 * and every assignment gives the client a fresh one. Throws UsherError('BAD_RESUME').
 * Costs one HMAC, only on failover — a separate resume token cost one on every request.
 */
export function resumedSessionId(
  keys: KeyRing,
  ticket: string,
  room: string,
  maxAgeSeconds: number,
  now = Date.now(),
): string {
  return readResumeProof(keys, ticket, room, maxAgeSeconds, now).sessionId;
}

/** What a valid resume proof carries over to the next ticket: the session and who holds it. */
export interface ResumedSession {
  sessionId: string;
  identity: string;
  name: string;
  grants: TicketGrants;
}

/** As resumedSessionId, with the identity, name and grants the proof's ticket carried. */
export function readResumeProof(
  keys: KeyRing,
  ticket: string,
  room: string,
  maxAgeSeconds: number,
  now = Date.now(),
): ResumedSession {
  let read: SignedTicket;
  try {
    read = readTicket(keys, ticket);
  } catch {
    throw new UsherError('BAD_RESUME');
  }
  const ageSeconds = read.iat === undefined ? Number.NaN : now / 1000 - read.iat;
  if (read.room !== room || !(ageSeconds <= maxAgeSeconds && ageSeconds >= -CLOCK_TOLERANCE_S))
    throw new UsherError('BAD_RESUME');
  return { sessionId: read.sessionId, identity: read.identity, name: read.name, grants: read.grants };
}

/** Remembers used ticket ids until they expire, so a ticket works once. */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private sweptAt = 0;

  /** Records the id; false when it was already used. */
  use(jti: string, expSeconds: number, now = Date.now()): boolean {
    this.sweep(now);
    if (this.seen.has(jti)) return false;
    this.seen.set(jti, (expSeconds + CLOCK_TOLERANCE_S) * 1000);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 1000) return;
    this.sweptAt = now;
    for (const [jti, expiresAt] of this.seen) if (expiresAt < now) this.seen.delete(jti);
  }
}

export async function signControlToken(keys: KeyRing, serverId: string, ttlSeconds = 60): Promise<string> {
  const kid = keys.current.kid;
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', kid, typ: CONTROL_TYPE })
    .setIssuer(serverId)
    .setSubject(serverId)
    .setAudience(CONTROL_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(keys.derive('control', kid)!);
}

/** Throws UsherError('UNAUTHORIZED') unless the token proves the secret for serverId. */
export async function verifyControlToken(keys: KeyRing, token: string, serverId: string): Promise<void> {
  try {
    const { payload } = await jwtVerify(token, keyResolver(keys, 'control'), {
      algorithms: ['HS256'],
      audience: CONTROL_AUDIENCE,
      typ: CONTROL_TYPE,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    if (payload.sub !== serverId) throw new Error('token subject does not match the server id');
  } catch (cause) {
    throw new UsherError('UNAUTHORIZED', undefined, { cause });
  }
}
