// Fuzzing the join token parser (fast-check): any string, mutated tokens, and hostile claim
// sets carrying a *valid* signature (so the claims check itself is reached), each must be
// accepted or refused with a TOKEN_* catalogue code — never another exception — and an
// accepted token must be one whose claims pass their schema for the room asked.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compile } from 'typebox/compile';
import { ApiKeys, signJoinToken, verifyJoinToken } from '../../server/common/join-token.ts';
import { UsherError } from '../../shared/errors.ts';
import { JOIN_TOKEN_TYPE, JoinTokenClaims } from '../../shared/protocol/join-token.ts';
import { fuzzSeed, guardProcess, hostileFrames, tally } from './testing/fuzz.ts';

const SECRET = 'fuzz-join-token-secret-0123456789abcdef';
const keys = ApiKeys.parse(`fz:${SECRET}`);
const now = Date.UTC(2026, 11, 3, 9, 0, 0);
const nowS = Math.floor(now / 1000);
const checkClaims = Compile(JoinTokenClaims);
const b64 = (text: string): string => Buffer.from(text).toString('base64url');

function sign(headerText: string, payloadText: string): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

/** What verifyJoinToken did: 'accepted' or the code; fails the property on anything else. */
function outcome(token: string, room: string): string {
  try {
    const verified = verifyJoinToken(keys, token, room, now);
    return `accepted:${verified.identity}`;
  } catch (error) {
    if (!(error instanceof UsherError) || !error.code.startsWith('TOKEN_'))
      throw new Error(
        `not a TOKEN_* UsherError: ${String(error)} for ${JSON.stringify(token).slice(0, 300)}`,
      );
    return error.code;
  }
}

const rooms = fc.oneof(
  fc.constantFrom('lobby', 'team.a', 'x'),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/),
);
const validClaims = fc.record(
  {
    sub: fc.oneof(fc.constantFrom('user-1', 'ü'), fc.string({ minLength: 1, maxLength: 20 })),
    name: fc.string({ maxLength: 20 }),
    room: rooms,
    iat: fc.constant(nowS),
    exp: fc.integer({ min: nowS - 30, max: nowS + 3600 }),
    nbf: fc.integer({ min: nowS - 30, max: nowS + 30 }),
    jti: fc.string({ minLength: 1, maxLength: 10 }),
    grants: fc.record(
      {
        join: fc.boolean(),
        publish: fc.boolean(),
        data: fc.boolean(),
        move: fc.boolean(),
        admin: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['sub', 'room', 'exp'] },
);
const frameText = (frame: { binary: boolean; text?: string; bytes?: Uint8Array }): string =>
  frame.binary ? Buffer.from(frame.bytes!).toString('latin1') : frame.text!;
const validHeader = fc.constant({ alg: 'HS256', kid: 'fz', typ: JOIN_TOKEN_TYPE });
const headerTexts = fc.oneof(
  { weight: 1, arbitrary: validHeader.map((header) => JSON.stringify(header)) },
  { weight: 2, arbitrary: hostileFrames(validHeader, { maxBytes: 512, hugeMax: 256 }).map(frameText) },
);
const claimTexts = hostileFrames(
  validClaims.map((claims) => ({ ...claims, room: 'lobby' })),
  { maxBytes: 1400, hugeMax: 512 },
).map(frameText);

/** A valid token, then damaged as text: characters flipped, inserted or deleted, cut, dotted. */
const damagedToken = fc
  .tuple(
    validClaims,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom('flip', 'insert', 'delete', 'cut', 'dot'),
        fc.string({ maxLength: 3 }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([claims, edits]) => {
    let token = sign(
      JSON.stringify({ alg: 'HS256', kid: 'fz', typ: JOIN_TOKEN_TYPE }),
      JSON.stringify(claims),
    );
    for (const [at, kind, text] of edits) {
      const index = at % (token.length + 1);
      if (kind === 'flip')
        token = `${token.slice(0, index)}${text.slice(0, 1) || 'A'}${token.slice(index + 1)}`;
      else if (kind === 'insert') token = `${token.slice(0, index)}${text}${token.slice(index)}`;
      else if (kind === 'delete') token = `${token.slice(0, index)}${token.slice(index + 1)}`;
      else if (kind === 'cut') token = token.slice(0, index);
      else token = `${token.slice(0, index)}.${token.slice(index)}`;
    }
    return token;
  });

const NUM_RUNS = 3000;

function check<T>(arbitrary: fc.Arbitrary<T>, property: (value: T) => void): void {
  const seed = fuzzSeed();
  const result = fc.check(fc.property(arbitrary, property), {
    numRuns: NUM_RUNS,
    ...(seed === undefined ? {} : { seed }),
  });
  if (!result.failed) return;
  const cause =
    result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
  throw new Error(`fuzz property failed (replay: FUZZ_SEED=${result.seed}):\n${cause.slice(0, 4000)}`);
}

test('any string is accepted or refused with a TOKEN_* code', (t) => {
  guardProcess(t);
  const strings = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc
      .array(fc.base64String({ maxLength: 80 }), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.join('.')),
    fc.integer({ min: 2040, max: 2060 }).map((length) => 'a.b.'.padEnd(length, 'c')),
  );
  check(fc.tuple(strings, rooms), ([token, room]) => {
    const result = outcome(token, room);
    if (token === '') assert.equal(result, 'TOKEN_MISSING');
    if (token.length > 2048) assert.equal(result, 'TOKEN_MALFORMED');
    assert.ok(!result.startsWith('accepted'), 'an unsigned string is never accepted');
  });
});

test('damaged valid tokens are refused (or, untouched in effect, accepted as signed)', (t) => {
  guardProcess(t);
  check(fc.tuple(damagedToken, rooms), ([token, room]) => {
    outcome(token, room);
  });
});

test('hostile headers and claims with a valid signature: the schema decides', (t) => {
  guardProcess(t);
  const seen: string[] = [];
  check(fc.tuple(headerTexts, claimTexts), ([headerText, claimsText]) => {
    const result = outcome(sign(headerText, claimsText), 'lobby');
    seen.push(result.startsWith('accepted') ? 'accepted' : result);
    if (!result.startsWith('accepted')) return;
    // Accepted ⇒ the header was exactly ours and the claims are schema-valid for this room.
    const parsedHeader = JSON.parse(headerText);
    assert.equal(parsedHeader.alg, 'HS256');
    assert.equal(parsedHeader.typ, JOIN_TOKEN_TYPE);
    const parsed = JSON.parse(claimsText);
    assert.ok(checkClaims.Check(parsed), `accepted claims outside the schema: ${claimsText.slice(0, 300)}`);
    assert.ok(
      parsed.room === 'lobby' || (parsed.roomPrefix !== undefined && 'lobby'.startsWith(parsed.roomPrefix)),
    );
    assert.equal(result, `accepted:${parsed.sub}`);
  });
  // The runs reached every stage of the check, acceptance included.
  const stages = tally(seen);
  for (const stage of ['accepted', 'TOKEN_MALFORMED', 'TOKEN_INVALID'])
    assert.ok((stages[stage] ?? 0) > 0, `${stage} never happened: ${JSON.stringify(stages)}`);
});

test('tokens the signer makes from generated input verify to the same claims', (t) => {
  guardProcess(t);
  check(validClaims, (claims) => {
    const token = signJoinToken(
      { id: 'fz', secret: SECRET },
      {
        room: claims.room,
        identity: claims.sub,
        ttlSeconds: 60,
        ...(claims.name === undefined ? {} : { name: claims.name }),
        ...(claims.grants === undefined ? {} : { grants: claims.grants }),
      },
      now,
    );
    const result = outcome(token, claims.room);
    if (claims.grants?.join === false) assert.equal(result, 'TOKEN_FORBIDDEN');
    else assert.equal(result, `accepted:${claims.sub}`);
  });
});
