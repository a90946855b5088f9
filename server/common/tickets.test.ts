// Tickets are hand-assembled and hand-checked compact JWS (for speed), so these tests pin
// them to the standard (jose signs/verifies the same bytes) and to every attack.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { jwtVerify, SignJWT } from 'jose';
import { UsherError } from '../../shared/errors.ts';
import { parseSecret } from './keys.ts';
import {
  randomId,
  resumedSessionId,
  signControlToken,
  signTicket,
  TICKET_TYPE,
  verifyTicket,
} from './tickets.ts';

const keys = parseSecret('k1:first-secret-0123456789');
const input = { sessionId: 's1', room: 'lobby', serverId: 'm1', name: 'Ada', ttlSeconds: 30 };
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsherError, `expected an UsherError, got ${String(error)}`);
    return error.code;
  }
  return 'accepted';
}

/** A ticket with any header/payload, HMAC-signed with the real ticket key. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  const mac = createHmac('sha256', keys.derive('ticket', 'k1')!).update(signingInput).digest('base64url');
  return `${signingInput}.${mac}`;
}

const now = Date.now();
const goodPayload = {
  room: 'lobby',
  name: 'Ada',
  iss: 'usher',
  aud: 'm1',
  sub: 's1',
  jti: 'j1',
  iat: Math.floor(now / 1000),
  exp: Math.floor(now / 1000) + 30,
};
const goodHeader = { alg: 'HS256', kid: 'k1', typ: TICKET_TYPE };

describe('tickets', () => {
  test('round trip: claims come back', () => {
    const { ticket, claims } = signTicket(keys, input);
    assert.deepEqual(verifyTicket(keys, ticket, 'm1'), claims);
    assert.equal(claims.room, 'lobby');
    assert.equal(claims.sessionId, 's1');
  });

  test('the payload is exactly JSON.stringify of the claims, whatever the display name holds', () => {
    for (const name of ['Ada', '', 'quote " backslash \\ newline \n', 'ünïcødé 🎧', '\u2028\u2029']) {
      const { ticket, claims } = signTicket(keys, { ...input, name }, now);
      const text = Buffer.from(ticket.split('.')[1]!, 'base64url').toString('utf8');
      const iat = Math.floor(now / 1000);
      assert.equal(
        text,
        JSON.stringify({
          room: 'lobby',
          name,
          iss: 'usher',
          aud: 'm1',
          sub: 's1',
          jti: claims.jti,
          iat,
          exp: claims.exp,
        }),
      );
      assert.equal(verifyTicket(keys, ticket, 'm1', now).name, name);
    }
  });

  test('standard JWS both ways: jose verifies ours, we verify jose-signed', async () => {
    const { ticket } = signTicket(keys, input);
    const { payload } = await jwtVerify(ticket, keys.derive('ticket', 'k1')!, { algorithms: ['HS256'] });
    assert.equal(payload.sub, 's1');
    const joseTicket = await new SignJWT({ room: 'lobby', name: 'Ada' })
      .setProtectedHeader(goodHeader)
      .setIssuer('usher')
      .setAudience('m1')
      .setSubject('s1')
      .setJti('j2')
      .setExpirationTime('30s')
      .sign(keys.derive('ticket', 'k1')!);
    assert.equal(verifyTicket(keys, joseTicket, 'm1').jti, 'j2');
  });

  test('forged signature (another secret) ⇒ TICKET_INVALID', () => {
    const other = parseSecret('k1:another-secret-987654321');
    assert.equal(
      code(() => verifyTicket(keys, signTicket(other, input).ticket, 'm1')),
      'TICKET_INVALID',
    );
  });

  test('tampered payload ⇒ TICKET_INVALID', () => {
    const [h, , s] = signTicket(keys, input).ticket.split('.');
    const tampered = `${h}.${b64({ ...goodPayload, room: 'other' })}.${s}`;
    assert.equal(
      code(() => verifyTicket(keys, tampered, 'm1')),
      'TICKET_INVALID',
    );
  });

  test('expired ⇒ TICKET_EXPIRED; wrong audience ⇒ TICKET_WRONG_SERVER', () => {
    const old = signTicket(keys, input, now - 60_000).ticket;
    assert.equal(
      code(() => verifyTicket(keys, old, 'm1')),
      'TICKET_EXPIRED',
    );
    assert.equal(
      code(() => verifyTicket(keys, signTicket(keys, input).ticket, 'm2')),
      'TICKET_WRONG_SERVER',
    );
  });

  test('alg none, HS512, RS256 and missing typ are refused even with a valid-looking MAC', () => {
    const [, p] = forge(goodHeader, goodPayload).split('.');
    assert.equal(
      code(() => verifyTicket(keys, `${b64({ alg: 'none', typ: TICKET_TYPE })}.${p}.`, 'm1')),
      'TICKET_INVALID',
    );
    for (const header of [
      { ...goodHeader, alg: 'none' },
      { ...goodHeader, alg: 'HS512' },
      { ...goodHeader, alg: 'RS256' },
      { alg: 'HS256', kid: 'k1' },
      { alg: 'HS256', typ: TICKET_TYPE },
    ]) {
      assert.equal(
        code(() => verifyTicket(keys, forge(header, goodPayload), 'm1')),
        'TICKET_INVALID',
        JSON.stringify(header),
      );
    }
  });

  test('unknown kid ⇒ TICKET_INVALID', () => {
    assert.equal(
      code(() => verifyTicket(keys, forge({ ...goodHeader, kid: 'nope' }, goodPayload), 'm1')),
      'TICKET_INVALID',
    );
  });

  test('missing or mistyped claims ⇒ TICKET_INVALID', () => {
    for (const drop of ['room', 'sub', 'jti', 'exp', 'iss', 'aud']) {
      const payload: Record<string, unknown> = { ...goodPayload };
      delete payload[drop];
      assert.equal(
        code(() => verifyTicket(keys, forge(goodHeader, payload), 'm1')),
        'TICKET_INVALID',
        drop,
      );
    }
    assert.equal(
      code(() => verifyTicket(keys, forge(goodHeader, { ...goodPayload, exp: '9' }), 'm1')),
      'TICKET_INVALID',
    );
    assert.equal(
      code(() => verifyTicket(keys, forge(goodHeader, { ...goodPayload, iss: 'x' }), 'm1')),
      'TICKET_INVALID',
    );
  });

  test('malformed compact forms ⇒ TICKET_INVALID, never a crash', () => {
    const good = signTicket(keys, input).ticket;
    for (const bad of [
      '',
      '.',
      '..',
      'a.b',
      'a.b.c.d',
      `${good}.x`,
      `${good}x`,
      '!!.??.##',
      'e30.e30.',
      'W10.W10.AA',
    ]) {
      assert.equal(
        code(() => verifyTicket(keys, bad, 'm1')),
        'TICKET_INVALID',
        bad,
      );
    }
  });

  test('key rotation: a ticket of a listed old key verifies; once the key is removed it does not', () => {
    const oldKeys = parseSecret('k0:old-secret-0123456789abc');
    const ticket = signTicket(oldKeys, input).ticket;
    const rotating = parseSecret('k1:first-secret-0123456789,k0:old-secret-0123456789abc');
    assert.equal(rotating.current.kid, 'k1', 'the first key signs');
    assert.equal(verifyTicket(rotating, ticket, 'm1').sessionId, 's1');
    assert.equal(
      code(() => verifyTicket(keys, ticket, 'm1')),
      'TICKET_INVALID',
    );
  });

  test('resume: the last ticket proves its session in its room, long after its expiry, within the window', () => {
    const day = 86_400;
    const { ticket } = signTicket(keys, input, now);
    assert.equal(resumedSessionId(keys, ticket, 'lobby', day, now + 3600_000), 's1', 'an hour later');
    assert.equal(resumedSessionId(keys, ticket, 'lobby', day, now + (day - 1) * 1000), 's1');
    const refused = (proof: string, room = 'lobby', at = now): string =>
      code(() => resumedSessionId(keys, proof, room, day, at));
    assert.equal(refused(ticket, 'lobby', now + (day + 1) * 1000), 'BAD_RESUME', 'past the window');
    assert.equal(refused(ticket, 'other'), 'BAD_RESUME', 'another room');
    assert.equal(refused(`${ticket.slice(0, -2)}xx`), 'BAD_RESUME', 'tampered');
    assert.equal(refused(signTicket(parseSecret('k9:stranger-secret-012345'), input).ticket), 'BAD_RESUME');
    assert.equal(refused(forge(goodHeader, { ...goodPayload, iat: undefined })), 'BAD_RESUME', 'no iat');
    assert.equal(
      refused(forge(goodHeader, { ...goodPayload, iat: Math.floor(now / 1000) + 60 })),
      'BAD_RESUME',
      'from the future',
    );
    assert.equal(refused('not-a-ticket'), 'BAD_RESUME');
    // Purpose-bound keys: a control token, signed with the same secret, is no resume proof.
    return signControlToken(keys, 'm1').then((token) => assert.equal(refused(token), 'BAD_RESUME'));
  });

  test('randomId: url-safe, 16 chars for 12 bytes, no repeats across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = randomId();
      assert.match(id, /^[A-Za-z0-9_-]{16}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 5000);
  });
});
