// The redirect grant's signing and reading: a round trip, and that no other token of the fleet
// passes as a grant nor a grant as a ticket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSecret } from './keys.ts';
import { type RedirectGrant, readRedirectGrant, signRedirectGrant } from './redirect-grant.ts';
import { signTicket, verifyTicket } from './tickets.ts';

const keys = parseSecret('redirect-grant-secret-0123456789');
const ticket = signTicket(keys, {
  sessionId: 's1',
  room: 'lobby',
  serverId: 'm1',
  name: 'Ada',
  ttlSeconds: 30,
}).ticket;
const grant: RedirectGrant = {
  serverId: 'm1',
  ticket,
  ping: { intervalMs: 1000, timeoutMs: 2500 },
  iceServers: [{ urls: ['turn:127.0.0.1:3478'], username: '1:s1', credential: 'c' }],
  origin: 'https://app.example',
  expiresAt: 1_800_000_000_123,
};

test('a grant reads back as signed, under any key the ring lists', () => {
  assert.deepEqual(readRedirectGrant(keys, signRedirectGrant(keys, grant)), grant);
  const { origin: _, ...noOrigin } = grant;
  assert.deepEqual(readRedirectGrant(keys, signRedirectGrant(keys, noOrigin)), noOrigin);
  const rotated = parseSecret(`new:${'n'.repeat(32)},${keys.current.kid}:redirect-grant-secret-0123456789`);
  assert.deepEqual(readRedirectGrant(rotated, signRedirectGrant(keys, grant)), grant);
});

test('another secret, a ticket, alg none or a tampered payload is not a grant; a grant is not a ticket', () => {
  const invalid = (token: string) =>
    assert.throws(
      () => readRedirectGrant(keys, token),
      (error: { code?: string }) => error.code === 'TICKET_INVALID',
    );
  invalid(signRedirectGrant(parseSecret('another-secret-0123456789abcdef'), grant));
  invalid(ticket);
  const signed = signRedirectGrant(keys, grant);
  const [header, body] = signed.split('.');
  const none = Buffer.from(
    JSON.stringify({ alg: 'none', typ: 'usher-redirect+jwt', kid: keys.current.kid }),
  ).toString('base64url');
  invalid(`${none}.${body}.`);
  const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const tampered = Buffer.from(JSON.stringify({ ...claims, aud: 'm2' })).toString('base64url');
  invalid(`${header}.${tampered}.${signed.split('.')[2]}`);
  assert.throws(
    () => verifyTicket(keys, signed, 'm1'),
    (error: { code?: string }) => error.code === 'TICKET_INVALID',
  );
});
