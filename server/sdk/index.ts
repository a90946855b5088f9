// What an application's backend needs from Usher: mint join tokens for its users, and
// verify the webhooks the broker sends it. No framework; Node built-ins only (through the
// project's own token code). Documented in docs/INTEGRATION.md.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Compile } from 'typebox/compile';
import { UsherError } from '../../shared/errors.ts';
import type { JoinGrants } from '../../shared/protocol/join-token.ts';
import { WEBHOOK_TOKEN_TYPE, WebhookEvent } from '../../shared/protocol/webhooks.ts';
import { readHs256 } from '../common/compact-jws.ts';
import { type ApiKey, ApiKeys, signJoinToken } from '../common/join-token.ts';
import { DEFAULT_SERVER_TOKEN_TTL_S, signServerToken } from '../common/server-token.ts';

export { DEFAULT_GRANTS, type JoinGrant, type JoinGrants } from '../../shared/protocol/join-token.ts';
export {
  type MoveCause,
  WEBHOOK_CONTENT_TYPE,
  WEBHOOK_EVENT_NAMES,
  type WebhookEvent,
  type WebhookEventName,
} from '../../shared/protocol/webhooks.ts';
export { type ApiKey, ApiKeys } from '../common/join-token.ts';
export { UsherError };

/** Default join token lifetime: long enough to load the page and join, short if it leaks. */
export const DEFAULT_TOKEN_TTL_SECONDS = 600;
/** Default window around a webhook signature's `iat` that verifyWebhook accepts. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

export interface CreateJoinTokenOptions {
  /** One of the keys in the broker's USHER_API_KEYS. */
  apiKey: ApiKey;
  /** Exactly one of room and roomPrefix. */
  room?: string;
  roomPrefix?: string;
  /** The application's user id. */
  identity: string;
  /** Display name (default: the identity). */
  name?: string;
  ttlSeconds?: number;
  /** Only what differs from DEFAULT_GRANTS. */
  grants?: JoinGrants;
  jti?: string;
  /** Clock, epoch ms (tests). */
  now?: number;
}

/**
 * A join token for one user: pass it to the browser, which sends it with its session
 * request. Throws UsherError('TOKEN_MALFORMED') naming the field when the broker would
 * refuse the token (bad room name, empty identity, short secret, …).
 */
export function createJoinToken(options: CreateJoinTokenOptions): string {
  return signJoinToken(
    options.apiKey,
    {
      ...(options.room === undefined ? {} : { room: options.room }),
      ...(options.roomPrefix === undefined ? {} : { roomPrefix: options.roomPrefix }),
      identity: options.identity,
      ...(options.name === undefined ? {} : { name: options.name }),
      ttlSeconds: options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
      ...(options.grants === undefined ? {} : { grants: options.grants }),
      ...(options.jti === undefined ? {} : { jti: options.jti }),
    },
    options.now,
  );
}

export interface CreateServerTokenOptions {
  /** One of the keys in the broker's USHER_API_KEYS. */
  apiKey: ApiKey;
  /** Default 300, at most 3600. */
  ttlSeconds?: number;
  /** Clock, epoch ms (tests). */
  now?: number;
}

/**
 * A bearer token for the server API (`Authorization: Bearer <token>` on `/v1/rooms…`): mint
 * one per batch of calls, it lasts minutes. Never give it to a browser: it can remove anyone.
 */
export function createServerToken(options: CreateServerTokenOptions): string {
  return signServerToken(options.apiKey, options.ttlSeconds ?? DEFAULT_SERVER_TOKEN_TTL_S, options.now);
}

/** Remembers webhook event ids for as long as their signatures could be accepted. */
export interface WebhookReplayGuard {
  /** True the first time `id` is seen before `untilMs`; false for a repeat. */
  firstSight(id: string, untilMs: number, now: number): boolean;
}

/**
 * Event ids in memory, forgotten when their window has passed. One process only: with
 * several receiver processes, use a shared store (e.g. Redis `SET id 1 PXAT until NX`).
 */
export class MemoryReplayGuard implements WebhookReplayGuard {
  private readonly seen = new Map<string, number>();
  private sweptAt = 0;

  firstSight(id: string, untilMs: number, now: number): boolean {
    if (now - this.sweptAt >= 1000) {
      this.sweptAt = now;
      for (const [seenId, until] of this.seen) if (until <= now) this.seen.delete(seenId);
    }
    const until = this.seen.get(id);
    if (until !== undefined && until > now) return false;
    this.seen.set(id, untilMs);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface VerifyWebhookOptions {
  /** Clock, epoch ms (default Date.now()). */
  now?: number;
  /** Accept signatures issued at most this far from now (default 300 s). */
  toleranceSeconds?: number;
  /** Refuse an event id seen before (WEBHOOK_REPLAYED); strongly advised. */
  seen?: WebhookReplayGuard;
}

const checkEvent = Compile(WebhookEvent);
const MAX_AUTHORIZATION_CHARS = 1024;

/**
 * Verify a webhook POST: `body` exactly as received (the raw text, before any JSON parsing)
 * and its Authorization header. Returns the event, or throws UsherError:
 * WEBHOOK_INVALID (no, malformed or foreign signature), WEBHOOK_STALE (outside the time
 * window), WEBHOOK_BODY_MISMATCH (body is not what was signed), BAD_JSON / BAD_MESSAGE (the
 * signed body is not an event of this version), WEBHOOK_REPLAYED (the id was seen before:
 * answer 2xx, you have it already).
 */
export function verifyWebhook(
  body: string,
  authorizationHeader: string | undefined,
  apiKeys: ApiKeys | readonly ApiKey[],
  options: VerifyWebhookOptions = {},
): WebhookEvent {
  const now = options.now ?? Date.now();
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const keys = apiKeys instanceof ApiKeys ? apiKeys : new ApiKeys(apiKeys);
  if (typeof authorizationHeader !== 'string' || authorizationHeader.length > MAX_AUTHORIZATION_CHARS)
    throw new UsherError('WEBHOOK_INVALID');
  const token = authorizationHeader.replace(/^Bearer\s+/i, '').trim();
  const read = readHs256(token, WEBHOOK_TOKEN_TYPE, (kid) => keys.secretBytes(kid));
  if (!read.ok) throw new UsherError('WEBHOOK_INVALID');
  const { sha256, iat, exp } = read.payload;
  if (typeof sha256 !== 'string' || !Number.isInteger(iat) || !Number.isInteger(exp))
    throw new UsherError('WEBHOOK_INVALID', 'webhook signature lacks sha256, iat or exp');
  const nowSeconds = now / 1000;
  if (Math.abs(nowSeconds - (iat as number)) > tolerance || (exp as number) <= nowSeconds - 5)
    throw new UsherError('WEBHOOK_STALE');
  const actual = Buffer.from(createHash('sha256').update(body).digest('base64'));
  const claimed = Buffer.from(sha256);
  if (actual.length !== claimed.length || !timingSafeEqual(actual, claimed))
    throw new UsherError('WEBHOOK_BODY_MISMATCH');
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new UsherError('BAD_JSON');
  }
  if (!checkEvent.Check(event)) throw new UsherError('BAD_MESSAGE', 'webhook body is not a known event');
  // Long enough that the same capture cannot come back fresh: its signature is stale by then.
  if (options.seen !== undefined && !options.seen.firstSight(event.id, now + 2 * tolerance * 1000, now))
    throw new UsherError('WEBHOOK_REPLAYED');
  return event;
}
