// `usher token` as a user meets it: the printed token verifies with the broker's check (and
// jose) and carries what the flags say; bad configuration exits 2 with a clear message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { ApiKeys, verifyJoinToken } from '../../server/common/join-token.ts';

const bin = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));
const SECRET_1 = 'cli-token-secret-one-0123456789abcdef';
const SECRET_2 = 'cli-token-secret-two-0123456789abcdef';
const API_KEYS = `k1:${SECRET_1},k2:${SECRET_2}`;
const keys = ApiKeys.parse(API_KEYS);

function usher(args: string[], env: Record<string, string> = { USHER_API_KEYS: API_KEYS }) {
  return spawnSync(process.execPath, [bin, 'token', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 20_000,
  });
}

describe('usher token', () => {
  test('prints a token the broker accepts, with the identity, name, lifetime and grants asked for', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = usher([
      '--room',
      'standup',
      '--identity',
      'user-42',
      '--name',
      'Ada',
      '--ttl',
      '1h',
      '--grant',
      'admin,no-move',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const token = result.stdout.trim();
    assert.equal(result.stdout, `${token}\n`, 'only the token on stdout');
    const verified = verifyJoinToken(keys, token, 'standup');
    assert.equal(verified.keyId, 'k1');
    assert.equal(verified.identity, 'user-42');
    assert.equal(verified.name, 'Ada');
    assert.deepEqual(verified.grants, { join: true, publish: true, data: true, move: false, admin: true });
    const after = Math.floor(Date.now() / 1000);
    assert.ok(verified.exp >= before + 3600 && verified.exp <= after + 3600, `exp ${verified.exp}`);
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET_1), { algorithms: ['HS256'] });
    assert.equal(payload.sub, 'user-42');
  });

  test('--key picks the signing key; --room-prefix admits the family of rooms', () => {
    const result = usher(['--room-prefix', 'team-7.', '--identity', 'u', '--key', 'k2', '--ttl', '90']);
    assert.equal(result.status, 0, result.stderr);
    const verified = verifyJoinToken(keys, result.stdout.trim(), 'team-7.daily');
    assert.equal(verified.keyId, 'k2');
    assert.equal(verified.roomPrefix, 'team-7.');
    assert.equal(verified.name, 'u');
  });

  test('--help documents the flags, the env and the default grants', () => {
    const result = usher(['--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /--identity <value>/);
    assert.match(result.stdout, /USHER_API_KEYS/);
    assert.match(result.stdout, /move=true, admin=false/);
  });

  test('bad configuration ⇒ exit 2, a message naming the problem, no stack, no secret', () => {
    const cases: Array<[string[], Record<string, string> | undefined, RegExp]> = [
      [['--room', 'r', '--identity', 'u'], {}, /USHER_API_KEYS is not set/],
      [['--room', 'r', '--identity', 'u'], { USHER_API_KEYS: 'k1:short' }, /key "k1" is shorter than 32/],
      [['--room', 'r', '--identity', 'u'], { USHER_API_KEYS: SECRET_1 }, /not "keyId:secret"/],
      [['--identity', 'u'], undefined, /exactly one of --room and --room-prefix/],
      [['--room', 'r', '--room-prefix', 'r', '--identity', 'u'], undefined, /exactly one of --room/],
      [['--room', 'r'], undefined, /--identity is required/],
      [
        ['--room', 'r', '--identity', 'u', '--key', 'k9'],
        undefined,
        /--key "k9" is not in USHER_API_KEYS \(k1, k2\)/,
      ],
      [['--room', 'r', '--identity', 'u', '--ttl', '1w'], undefined, /--ttl must be 1s to 366d/],
      [['--room', 'r', '--identity', 'u', '--ttl', '0'], undefined, /--ttl must be 1s to 366d/],
      [['--room', 'r', '--identity', 'u', '--grant', 'root'], undefined, /unknown grant "root"/],
      [['--room', 'not a room', '--identity', 'u'], undefined, /usher token: join token claims at \/room/],
      [['--room', 'r', '--identity', 'u', '--bogus'], undefined, /Unknown option '--bogus'/],
    ];
    for (const [args, env, pattern] of cases) {
      const result = usher(args, env);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(result.stderr, /cli-token-secret|:short/);
      assert.equal(result.stdout, '');
    }
  });
});
