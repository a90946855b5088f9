// Join tokens are hand-assembled and hand-checked compact JWS (like tickets, for speed), so
// these tests pin them to the standard (jose signs/verifies the same bytes) and to every attack.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { jwtVerify, SignJWT } from 'jose';
import { UsherError } from '../../shared/errors.ts';
import { DEFAULT_GRANTS, JOIN_TOKEN_TYPE } from '../../shared/protocol/join-token.ts';
import { UsherConfigError } from './config-error.ts';
import { ApiKeys, requireGrant, signJoinToken, verifyJoinToken } from './join-token.ts';

const SECRET_A = 'first-api-secret-0123456789abcdefghij';
const SECRET_B = 'second-api-secret-0123456789abcdefghi';
const keys = ApiKeys.parse(`app1:${SECRET_A},app2:${SECRET_B}`);
const keyA = { id: 'app1', secret: SECRET_A };
const now = Date.UTC(2026, 11, 3, 9, 0, 0);
const nowS = Math.floor(now / 1000);
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const goodHeader = { alg: 'HS256', kid: 'app1', typ: JOIN_TOKEN_TYPE };
const goodClaims = { sub: 'user-7', name: 'Ada', room: 'lobby', iat: nowS, exp: nowS + 600 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsherError, `expected an UsherError, got ${String(error)}`);
    return error.code;
  }
  return 'accepted';
}

/** A token with any header and payload, HMAC-SHA256-signed with `secret`. */
function forge(header: Record<string, unknown>, payload: unknown, secret = SECRET_A): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

const verify = (token: string | undefined, room = 'lobby', at = now) =>
  verifyJoinToken(keys, token, room, at);

describe('ApiKeys', () => {
  test('parses the rotation form; the first key is current; secrets never in errors', () => {
    assert.deepEqual(keys.ids, ['app1', 'app2']);
    assert.equal(keys.current.id, 'app1');
    assert.equal(keys.get('app2')?.secret, SECRET_B);
    assert.equal(keys.secretBytes('nope'), undefined);
    const cases: Array<[string | undefined, RegExp]> = [
      [undefined, /USHER_API_KEYS is not set/],
      ['  ', /USHER_API_KEYS is not set/],
      [`${SECRET_A}`, /entry 1 is not "keyId:secret"/],
      ['k1:short-secret', /key "k1" is shorter than 32/],
      [`k1:${SECRET_A},k1:${SECRET_B}`, /key id "k1" appears twice/],
      [',,', /lists no key/],
    ];
    for (const [raw, pattern] of cases) {
      assert.throws(
        () => ApiKeys.parse(raw),
        (error: unknown) =>
          error instanceof UsherConfigError &&
          pattern.test(error.message) &&
          !error.message.includes('short-secret') &&
          !error.message.includes(SECRET_A),
        String(raw),
      );
    }
  });
});

describe('join tokens', () => {
  test('round trip: claims come back with defaults filled in', () => {
    const token = signJoinToken(
      keyA,
      { room: 'lobby', identity: 'user-7', name: 'Ada', ttlSeconds: 600 },
      now,
    );
    assert.deepEqual(verify(token), {
      keyId: 'app1',
      identity: 'user-7',
      name: 'Ada',
      room: 'lobby',
      roomPrefix: undefined,
      grants: { join: true, publish: true, data: true, move: true, admin: false },
      exp: nowS + 600,
      jti: undefined,
    });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    assert.deepEqual(header, { alg: 'HS256', kid: 'app1', typ: 'usher-join+jwt' });
  });

  test('no name ⇒ the identity is the name; grants given override the defaults one by one', () => {
    const token = signJoinToken(
      keyA,
      { room: 'lobby', identity: 'u1', ttlSeconds: 60, grants: { move: false, admin: true } },
      now,
    );
    const verified = verify(token);
    assert.equal(verified.name, 'u1');
    assert.deepEqual(verified.grants, { ...DEFAULT_GRANTS, move: false, admin: true });
    assert.doesNotThrow(() => requireGrant(verified, 'admin'));
    assert.equal(
      code(() => requireGrant(verified, 'move')),
      'TOKEN_FORBIDDEN',
    );
  });

  test('roomPrefix admits rooms that start with it, and no other', () => {
    const token = signJoinToken(keyA, { roomPrefix: 'team-42.', identity: 'u1', ttlSeconds: 60 }, now);
    assert.equal(verify(token, 'team-42.standup').roomPrefix, 'team-42.');
    assert.equal(verify(token, 'team-42.').roomPrefix, 'team-42.');
    assert.equal(
      code(() => verify(token, 'team-420.standup')),
      'TOKEN_WRONG_ROOM',
    );
    assert.equal(
      code(() => verify(token, 'lobby')),
      'TOKEN_WRONG_ROOM',
    );
  });

  test('standard JWS both ways: jose verifies ours, we verify jose-signed', async () => {
    const ours = signJoinToken(keyA, { room: 'lobby', identity: 'user-7', ttlSeconds: 600, jti: 'j1' });
    const { payload, protectedHeader } = await jwtVerify(ours, new TextEncoder().encode(SECRET_A), {
      algorithms: ['HS256'],
      typ: JOIN_TOKEN_TYPE,
    });
    assert.equal(payload.sub, 'user-7');
    assert.equal(payload.room, 'lobby');
    assert.equal(payload.jti, 'j1');
    assert.equal(protectedHeader.kid, 'app1');
    const joseToken = await new SignJWT({ room: 'lobby', name: 'Grace', grants: { admin: true } })
      .setProtectedHeader({ alg: 'HS256', kid: 'app2', typ: JOIN_TOKEN_TYPE })
      .setSubject('user-9')
      .setIssuedAt()
      .setNotBefore('0s')
      .setJti('j2')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(SECRET_B));
    const verified = verifyJoinToken(keys, joseToken, 'lobby');
    assert.equal(verified.identity, 'user-9');
    assert.equal(verified.keyId, 'app2');
    assert.equal(verified.grants.admin, true);
    assert.equal(verified.jti, 'j2');
  });

  test('missing, oversized and structurally broken tokens', () => {
    assert.equal(
      code(() => verify(undefined)),
      'TOKEN_MISSING',
    );
    assert.equal(
      code(() => verify('')),
      'TOKEN_MISSING',
    );
    const huge =
      forge(goodHeader, { ...goodClaims, iss: 'x'.repeat(250), jti: 'y'.repeat(128) }) + 'A'.repeat(2000);
    assert.equal(
      code(() => verify(huge)),
      'TOKEN_MALFORMED',
    );
    for (const bad of [
      'abc',
      'a.b',
      'a.b.c.d',
      '.b.c',
      `${b64(goodHeader)}..x`,
      `${b64([1])}.${b64({})}.x`,
      '!!.??.**',
    ])
      assert.equal(
        code(() => verify(bad)),
        'TOKEN_MALFORMED',
        bad,
      );
  });

  test('alg none, HS512 (right key), RS256 (attacker key), wrong or missing typ, crit ⇒ TOKEN_INVALID', async () => {
    const [, payload] = forge(goodHeader, goodClaims).split('.');
    assert.equal(
      code(() => verify(`${b64({ alg: 'none', typ: JOIN_TOKEN_TYPE, kid: 'app1' })}.${payload}.`)),
      'TOKEN_INVALID',
    );
    const hs512 = await new SignJWT(goodClaims)
      .setProtectedHeader({ alg: 'HS512', kid: 'app1', typ: JOIN_TOKEN_TYPE })
      .sign(new TextEncoder().encode(SECRET_A));
    assert.equal(
      code(() => verify(hs512)),
      'TOKEN_INVALID',
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs256 = await new SignJWT(goodClaims)
      .setProtectedHeader({ alg: 'RS256', kid: 'app1', typ: JOIN_TOKEN_TYPE })
      .sign(privateKey);
    assert.equal(
      code(() => verify(rs256)),
      'TOKEN_INVALID',
    );
    for (const header of [
      { alg: 'HS256', kid: 'app1', typ: 'JWT' },
      { alg: 'HS256', kid: 'app1', typ: 'usher-webhook+jwt' },
      { alg: 'HS256', kid: 'app1' },
      { alg: 'HS256', typ: JOIN_TOKEN_TYPE },
      { ...goodHeader, crit: ['exp'] },
    ])
      assert.equal(
        code(() => verify(forge(header, goodClaims))),
        'TOKEN_INVALID',
        JSON.stringify(header),
      );
  });

  test('signed with another secret, tampered payload, second spelling of the signature ⇒ TOKEN_INVALID', () => {
    assert.equal(
      code(() => verify(forge(goodHeader, goodClaims, 'c'.repeat(40)))),
      'TOKEN_INVALID',
    );
    const [h, , s] = forge(goodHeader, goodClaims).split('.');
    assert.equal(
      code(() => verify(`${h}.${b64({ ...goodClaims, grants: { admin: true } })}.${s}`)),
      'TOKEN_INVALID',
    );
    // 32 bytes in base64url leave 2 spare bits in the last character: flipping them decodes to
    // the same bytes, and must still be refused.
    const token = forge(goodHeader, goodClaims);
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    const respelled = token.slice(0, -1) + twin;
    assert.deepEqual(
      Buffer.from(respelled.split('.')[2]!, 'base64url'),
      Buffer.from(token.split('.')[2]!, 'base64url'),
    );
    assert.equal(
      code(() => verify(respelled)),
      'TOKEN_INVALID',
    );
  });

  test('key rotation: a key verifies while listed, not after it is removed', () => {
    const oldToken = forge({ ...goodHeader, kid: 'app2' }, goodClaims, SECRET_B);
    assert.equal(verify(oldToken).keyId, 'app2');
    const rotated = ApiKeys.parse(`app3:${'d'.repeat(40)},app1:${SECRET_A}`);
    assert.equal(
      code(() => verifyJoinToken(rotated, oldToken, 'lobby', now)),
      'TOKEN_INVALID',
    );
    assert.equal(verifyJoinToken(rotated, forge(goodHeader, goodClaims), 'lobby', now).keyId, 'app1');
  });

  test('validity window: expired, nbf in the future, and the 5 s skew allowance', () => {
    const token = forge(goodHeader, { ...goodClaims, exp: nowS - 6 });
    assert.equal(
      code(() => verify(token)),
      'TOKEN_EXPIRED',
    );
    assert.equal(verify(forge(goodHeader, { ...goodClaims, exp: nowS - 4 })).exp, nowS - 4);
    assert.equal(
      code(() => verify(forge(goodHeader, { ...goodClaims, nbf: nowS + 60 }))),
      'TOKEN_EXPIRED',
    );
    assert.equal(verify(forge(goodHeader, { ...goodClaims, nbf: nowS + 4 })).identity, 'user-7');
  });

  test('claims out of schema ⇒ TOKEN_MALFORMED, naming where (the path) and not what (the value)', () => {
    const cases: unknown[] = [
      { ...goodClaims, sub: undefined },
      { ...goodClaims, sub: '' },
      { ...goodClaims, sub: 'line\nbreak' },
      { ...goodClaims, exp: '9999999999' },
      { ...goodClaims, exp: 1.5 },
      { ...goodClaims, room: 'bad room' },
      { ...goodClaims, roomPrefix: 'lob' },
      { sub: 'u', exp: nowS + 60 },
      { ...goodClaims, grants: { join: 'yes' } },
      { ...goodClaims, grants: { superuser: true } },
      { ...goodClaims, role: 'admin' },
      { ...goodClaims, name: 'n'.repeat(65) },
    ];
    for (const claims of cases) {
      let message = '';
      assert.equal(
        code(() => {
          try {
            verify(forge(goodHeader, claims));
          } catch (error) {
            message = (error as Error).message;
            throw error;
          }
        }),
        'TOKEN_MALFORMED',
        JSON.stringify(claims),
      );
      assert.doesNotMatch(message, /line\nbreak|bad room|9999999999/);
    }
  });

  test('wrong room ⇒ TOKEN_WRONG_ROOM; join: false ⇒ TOKEN_FORBIDDEN', () => {
    assert.equal(
      code(() => verify(forge(goodHeader, goodClaims), 'other')),
      'TOKEN_WRONG_ROOM',
    );
    assert.equal(
      code(() => verify(forge(goodHeader, { ...goodClaims, grants: { join: false } }))),
      'TOKEN_FORBIDDEN',
    );
  });

  test('signJoinToken refuses input the broker would refuse, with a typed error', () => {
    const cases: Array<Parameters<typeof signJoinToken>[1]> = [
      { identity: 'u', ttlSeconds: 60 },
      { room: 'a', roomPrefix: 'a', identity: 'u', ttlSeconds: 60 },
      { room: 'no spaces', identity: 'u', ttlSeconds: 60 },
      { room: 'a', identity: '', ttlSeconds: 60 },
      { room: 'a', identity: 'u', ttlSeconds: 0 },
      { room: 'a', identity: 'u', ttlSeconds: 1.5 },
    ];
    for (const input of cases)
      assert.equal(
        code(() => signJoinToken(keyA, input, now)),
        'TOKEN_MALFORMED',
        JSON.stringify(input),
      );
    assert.equal(
      code(() =>
        signJoinToken({ id: 'app1', secret: 'short' }, { room: 'a', identity: 'u', ttlSeconds: 60 }),
      ),
      'TOKEN_MALFORMED',
    );
    assert.equal(
      code(() =>
        signJoinToken({ id: 'bad id', secret: SECRET_A }, { room: 'a', identity: 'u', ttlSeconds: 60 }),
      ),
      'TOKEN_MALFORMED',
    );
  });

  test('a webhook-type JWT signed with the same API key is not a join token', () => {
    const webhookish = forge(
      { alg: 'HS256', kid: 'app1', typ: 'usher-webhook+jwt' },
      { sha256: 'x', iat: nowS, exp: nowS + 60 },
    );
    assert.equal(
      code(() => verify(webhookish)),
      'TOKEN_INVALID',
    );
  });
});
