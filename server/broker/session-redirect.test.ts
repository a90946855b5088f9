// Redirect mode (`POST /v1/sessions?redirect=1`) over real sockets: a broker and real media
// servers on port 0; the client follows the 307 with fetch and the server itself answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeys, signJoinToken } from '../common/join-token.ts';
import { createLogger } from '../common/logger.ts';
import { readRedirectGrant, signRedirectGrant } from '../common/redirect-grant.ts';
import { TestClient } from '../media/testing/harness.ts';
import { sessionsEndpoint } from './session-redirect.ts';
import { type Json, keys, startBroker, startMedia } from './testing/harness.ts';

const _logger = createLogger({ name: 'redirect-test', level: 'silent' });
const PING = { intervalMs: 700, timeoutMs: 2100 };

const request = (room: string, extra: Record<string, unknown> = {}) => ({
  type: 'session.request',
  v: 1,
  id: 'r1',
  room,
  ...extra,
});

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

async function post(
  url: string,
  body: unknown,
  options: { follow?: boolean; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify(body),
    redirect: options.follow === false ? 'manual' : 'follow',
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}

function payload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

async function join(url: string, ticket: string): Promise<Json> {
  const client = await TestClient.open(url);
  client.send({ type: 'join', v: 1, ticket });
  const reply = (await client.next((m) => m.type === 'joined' || m.type === 'error')) as Json;
  client.ws.close();
  return reply;
}

const grantOf = (location: string): string => new URL(location).searchParams.get('grant') ?? '';

test('redirect: the broker answers 307 to the server, which gives its own address, seat and the ticket', async (t) => {
  const tb = await startBroker(t, {
    rateLimit: false,
    ping: PING,
    iceServers: { stunUrls: ['stun:127.0.0.1:3478'] },
  });
  const m1 = await startMedia(t, tb, 'm1', { requireSeat: true });

  const redirected = await post(tb.http('/v1/sessions?redirect=1'), request('redir'), { follow: false });
  assert.equal(redirected.status, 307);
  assert.equal(redirected.body.type, 'session.redirect');
  assert.equal(redirected.body.id, 'r1');
  const location = redirected.headers.get('location') ?? '';
  assert.equal(redirected.body.location, location);
  assert.equal(redirected.headers.get('cache-control'), 'no-store');
  // Where the server registered, over http, at its own session endpoint.
  assert.equal(location.split('?')[0], sessionsEndpoint(m1.url));
  assert.equal(location.split('?')[0], `http://127.0.0.1:${m1.port}/v1/sessions`);
  assert.ok(Number(redirected.body.expiresAt) > Date.now());

  const assigned = await post(location, request('redir'));
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  assert.equal(assigned.body.type, 'session.assigned');
  assert.equal(assigned.body.id, 'r1');
  assert.deepEqual(assigned.body.server, { id: 'm1', url: m1.url });
  assert.deepEqual(assigned.body.ping, PING);
  assert.deepEqual(assigned.body.iceServers, [{ urls: ['stun:127.0.0.1:3478'] }]);
  assert.equal((assigned.body.client as { address: string }).address, '127.0.0.1');
  const seat = payload(assigned.body.seat as string);
  assert.equal(seat.srv, 'm1');
  assert.equal(seat.url, m1.url);
  assert.equal(seat.sub, assigned.body.sessionId);
  assert.equal(payload(assigned.body.ticket as string).aud, 'm1');

  // The grant admits once.
  const again = await post(location, request('redir'));
  assert.equal(again.status, 401);
  assert.equal(again.body.code, 'TICKET_REPLAYED');
  // The seat joins there, on a server that admits only its own seats.
  assert.equal((await join(m1.url, assigned.body.seat as string)).type, 'joined');

  // The ticket is the resume proof as always: the same session, redirected again.
  const resumed = await post(
    tb.http('/v1/sessions?redirect=true'),
    request('redir', { resume: assigned.body.ticket }),
  );
  assert.equal(resumed.status, 200);
  assert.equal(resumed.body.sessionId, assigned.body.sessionId);

  const metrics = await (await fetch(tb.http('/metrics'))).text();
  assert.match(metrics, /usher_broker_session_requests_total\{transport="http",result="redirected"\} 2/);
});

test('redirect: admission is the broker’s as for a direct answer; a bad query is BAD_MESSAGE', async (t) => {
  const apiKey = { id: 'app1', secret: 'a'.repeat(40) };
  const tb = await startBroker(t, {
    rateLimit: false,
    auth: { mode: 'token', apiKeys: new ApiKeys([apiKey]) },
  });
  await startMedia(t, tb, 'm1');
  const missing = await post(tb.http('/v1/sessions?redirect=1'), request('adm'), { follow: false });
  assert.equal(missing.status, 401);
  assert.equal(missing.body.code, 'TOKEN_MISSING');
  const token = signJoinToken(
    apiKey,
    { room: 'adm', identity: 'ada', name: 'Ada', ttlSeconds: 60 },
    Date.now(),
  );
  const assigned = await post(tb.http('/v1/sessions?redirect=1'), request('adm'), {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  assert.equal(payload(assigned.body.seat as string).idn, 'ada');
  assert.equal(payload(assigned.body.seat as string).name, 'Ada');
  const bad = await post(tb.http('/v1/sessions?redirect=yes'), request('adm', { token }), { follow: false });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'BAD_MESSAGE');
});

test('redirect: a full or draining server refuses with a typed error', async (t) => {
  // Two brokers, each believing the one seat is free: only the server's own book knows better.
  const a = await startBroker(t, { rateLimit: false });
  const b = await startBroker(t, { rateLimit: false });
  const m1 = await startMedia(t, [a, b], 'm1', {
    capacity: { maxPeers: 1, maxRooms: 10, maxPeersPerRoom: 10 },
  });
  const first = await post(a.http('/v1/sessions?redirect=1'), request('full-1'), { follow: false });
  const second = await post(b.http('/v1/sessions?redirect=1'), request('full-2'), { follow: false });
  assert.equal(first.status, 307);
  assert.equal(second.status, 307);
  const seated = await post(String(first.body.location), request('full-1'));
  assert.equal(seated.status, 200);
  const full = await post(String(second.body.location), request('full-2'));
  assert.equal(full.status, 503);
  assert.equal(full.body.code, 'SERVER_FULL');
  assert.equal(full.body.id, 'r1');

  const c = await startBroker(t, { rateLimit: false });
  const m2 = await startMedia(t, c, 'm2');
  const beforeDrain = await post(c.http('/v1/sessions?redirect=1'), request('drain'), { follow: false });
  assert.equal(beforeDrain.status, 307);
  void m2.drain();
  const draining = await post(String(beforeDrain.body.location), request('drain'));
  assert.equal(draining.status, 503);
  assert.equal(draining.body.code, 'SERVER_DRAINING');
  // The one seat m1 gave is the one that joins.
  assert.equal((await join(m1.url, seated.body.seat as string)).type, 'joined');
  assert.equal(m1.stats().peers, 1);
});

test('redirect: a forged, expired, foreign, missing or other-room grant is refused with its TICKET_* code', async (t) => {
  const tb = await startBroker(t, { rateLimit: false });
  const m1 = await startMedia(t, tb, 'm1');
  const m2 = await startMedia(t, tb, 'm2');
  const redirected = await post(tb.http('/v1/sessions?redirect=1'), request('grants'), { follow: false });
  const location = String(redirected.body.location);
  const grant = grantOf(location);
  const target = readRedirectGrant(keys, grant).serverId;
  const [here, other] = target === 'm1' ? [m1, m2] : [m2, m1];
  const endpoint = sessionsEndpoint(here.url);
  const refusal = async (url: string, room = 'grants'): Promise<string | undefined> =>
    (await post(url, request(room))).body.code;

  // Forged: the payload rewritten (other ICE servers), the signature kept.
  const [header, body, signature] = grant.split('.');
  const claims = payload(grant);
  const forgedBody = Buffer.from(JSON.stringify({ ...claims, ice: [{ urls: 'turn:evil' }] })).toString(
    'base64url',
  );
  assert.equal(await refusal(`${endpoint}?grant=${header}.${forgedBody}.${signature}`), 'TICKET_INVALID');
  assert.equal(await refusal(`${endpoint}?grant=${header}.${body}.AAAA`), 'TICKET_INVALID');
  assert.equal(await refusal(endpoint), 'TICKET_INVALID');
  // Signed with the ticket key, not the redirect key: a ticket is not a grant.
  assert.equal(await refusal(`${endpoint}?grant=${readRedirectGrant(keys, grant).ticket}`), 'TICKET_INVALID');
  // Another server's grant.
  assert.equal(await refusal(`${sessionsEndpoint(other.url)}?grant=${grant}`), 'TICKET_WRONG_SERVER');
  // Expired: the same grant signed again by the fleet with a past expiry.
  const expired = signRedirectGrant(keys, { ...readRedirectGrant(keys, grant), expiresAt: Date.now() - 1 });
  assert.equal(await refusal(`${endpoint}?grant=${expired}`), 'TICKET_EXPIRED');
  // Another room in the body than the grant's.
  assert.equal(await refusal(location, 'not-grants'), 'TICKET_WRONG_ROOM');
  // None of those spent it.
  const assigned = await post(location, request('grants'));
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  assert.equal((assigned.body.server as { id: string }).id, target);
  // The grant spent the broker's ticket: it does not join on its own; the seat does.
  assert.equal((await join(here.url, assigned.body.ticket as string)).code, 'TICKET_REPLAYED');
  assert.equal((await join(here.url, assigned.body.seat as string)).type, 'joined');
  // Garbage bodies get the broker's codes.
  const garbage = await fetch(location, { method: 'POST', body: '{nope' });
  assert.equal(((await garbage.json()) as Json).code, 'BAD_JSON');
  const huge = await fetch(location, { method: 'POST', body: 'x'.repeat(5000) });
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as Json).code, 'FRAME_TOO_LARGE');
});

test('redirect CORS: the server answers for the origin the broker admitted, and for the null origin of a cross-origin redirect', async (t) => {
  const page = 'https://app.example';
  const tb = await startBroker(t, { rateLimit: false, allowedOrigins: [page] });
  await startMedia(t, tb, 'm1');
  const refused = await post(tb.http('/v1/sessions?redirect=1'), request('cors'), {
    follow: false,
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(refused.body.code, 'FORBIDDEN_ORIGIN');
  const redirected = await post(tb.http('/v1/sessions?redirect=1'), request('cors'), {
    follow: false,
    headers: { origin: page },
  });
  assert.equal(redirected.status, 307);
  assert.equal(redirected.headers.get('access-control-allow-origin'), page);
  const location = String(redirected.body.location);
  const preflight = async (origin: string) =>
    fetch(location, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
  const allowed = await preflight(page);
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get('access-control-allow-origin'), page);
  assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /content-type/);
  const tainted = await preflight('null');
  assert.equal(tainted.headers.get('access-control-allow-origin'), 'null');
  const other = await preflight('https://evil.example');
  assert.equal(other.status, 403);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  const assigned = await post(location, request('cors'), { headers: { origin: page } });
  assert.equal(assigned.status, 200);
  assert.equal(assigned.headers.get('access-control-allow-origin'), page);
  // A refusal is readable by that page too.
  const replayed = await post(location, request('cors'), { headers: { origin: page } });
  assert.equal(replayed.body.code, 'TICKET_REPLAYED');
  assert.equal(replayed.headers.get('access-control-allow-origin'), page);
});

test('redirect with seat confirmation on: the broker asks for no seat of its own; the server’s book holds one', async (t) => {
  const tb = await startBroker(t, { rateLimit: false, seatConfirm: { timeoutMs: 250 } });
  const m1 = await startMedia(t, tb, 'm1', { capacity: { maxPeers: 1, maxRooms: 10, maxPeersPerRoom: 10 } });
  const assigned = await post(tb.http('/v1/sessions?redirect=1'), request('both'));
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  assert.equal((await join(m1.url, assigned.body.seat as string)).type, 'joined');
  const metrics = await (await fetch(tb.http('/metrics'))).text();
  assert.doesNotMatch(metrics, /usher_broker_seat_reservations_total\{outcome="reserved"\} [1-9]/);
});

test('a server’s session endpoint sits next to its media path, over http(s)', () => {
  assert.equal(sessionsEndpoint('ws://127.0.0.1:9001/v1/media'), 'http://127.0.0.1:9001/v1/sessions');
  assert.equal(
    sessionsEndpoint('wss://usher.example/m/media-1/v1/media'),
    'https://usher.example/m/media-1/v1/sessions',
  );
  assert.equal(sessionsEndpoint('wss://[::1]:443/v1/media?x=1#y'), 'https://[::1]/v1/sessions');
});
