// The redirect grant: the broker's signed word that the bearer of a redirected session request
// was admitted and assigned to one media server, carrying what that server cannot know itself
// (the broker's ticket, ping settings, ICE servers, the page's origin). HS256 compact JWS under
// the fleet secret's `redirect` key, so neither a ticket nor a control token passes as one.
// docs/ARCHITECTURE.md "Redirect mode".
import { Compile } from 'typebox/compile';
import { UsherError } from '../../shared/errors.ts';
import { type IceServer, SessionAssigned } from '../../shared/protocol/broker.ts';
import { readHs256, signHs256 } from './compact-jws.ts';
import type { KeyRing } from './keys.ts';

export const REDIRECT_TYPE = 'usher-redirect+jwt';
const REDIRECT_ISSUER = 'usher-redirect';
/** A grant is followed at once by the client's fetch: a few seconds is plenty, and less to replay. */
export const DEFAULT_REDIRECT_GRANT_TTL_MS = 10_000;

export interface RedirectGrant {
  /** The one media server it admits to (`aud`). */
  serverId: string;
  /** The broker's ticket for the session: who it is, its room and grants; the client's resume proof. */
  ticket: string;
  ping: { intervalMs: number; timeoutMs: number };
  iceServers: IceServer[];
  /** The page's Origin the broker admitted, so the server answers CORS for it alone. */
  origin?: string;
  /** Epoch ms. */
  expiresAt: number;
}

const checkIceServers = Compile(SessionAssigned.properties.iceServers);

export function signRedirectGrant(keys: KeyRing, grant: RedirectGrant): string {
  const kid = keys.current.kid;
  const payload = JSON.stringify({
    iss: REDIRECT_ISSUER,
    aud: grant.serverId,
    tkt: grant.ticket,
    png: [grant.ping.intervalMs, grant.ping.timeoutMs],
    ice: grant.iceServers,
    ...(grant.origin === undefined ? {} : { org: grant.origin }),
    exp: Math.ceil(grant.expiresAt / 1000),
    xms: grant.expiresAt,
  });
  return signHs256(keys.derive('redirect', kid)!, kid, REDIRECT_TYPE, payload);
}

/**
 * A grant signed by this fleet, its claims well formed; throws UsherError('TICKET_INVALID')
 * otherwise. Audience and expiry are the caller's to check (a preflight reads an expired grant
 * too, so that the page can read the refusal that follows).
 */
export function readRedirectGrant(keys: KeyRing, token: string): RedirectGrant {
  const read = readHs256(token, REDIRECT_TYPE, (kid) => keys.derive('redirect', kid));
  if (!read.ok)
    throw new UsherError('TICKET_INVALID', 'the redirect grant is malformed or not signed by the broker');
  const { iss, aud, tkt, png, ice, org, xms } = read.payload;
  if (
    iss !== REDIRECT_ISSUER ||
    typeof aud !== 'string' ||
    typeof tkt !== 'string' ||
    !Array.isArray(png) ||
    png.length !== 2 ||
    !png.every((value) => Number.isInteger(value) && (value as number) > 0) ||
    !checkIceServers.Check(ice) ||
    (org !== undefined && typeof org !== 'string') ||
    typeof xms !== 'number'
  )
    throw new UsherError('TICKET_INVALID', 'the redirect grant is malformed or not signed by the broker');
  return {
    serverId: aud,
    ticket: tkt,
    ping: { intervalMs: png[0] as number, timeoutMs: png[1] as number },
    iceServers: ice,
    ...(typeof org === 'string' ? { origin: org } : {}),
    expiresAt: xms,
  };
}
