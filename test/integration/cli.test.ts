// The `usher` command as a user meets it: help texts, and clear errors (exit 2, no
// stack trace) for bad configuration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));
const SECRET = 'cli-test-secret-0123456789';

function usher(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 20_000,
  });
}

describe('usher CLI', () => {
  test('--help lists the commands', () => {
    const result = usher(['--help']);
    assert.equal(result.status, 0);
    for (const command of ['broker', 'media', 'stack'])
      assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
  });

  for (const command of ['broker', 'media', 'stack']) {
    test(`${command} --help documents its flags and env`, () => {
      const result = usher([command, '--help']);
      assert.equal(result.status, 0);
      assert.match(result.stdout, /--port <n>/);
      assert.match(result.stdout, /USHER_/);
    });
  }

  test('unknown command ⇒ exit 2 with usage', () => {
    const result = usher(['nope']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown command "nope"/);
  });

  test('bench, loaded only when asked for: its help, and a config error without a stack', () => {
    const help = usher(['bench', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--scenario <a,b>/);
    assert.match(help.stdout, /--storm-clients <n>/);
    const bad = usher(['bench', '--scenario', 'nope']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown scenario "nope"/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  test('broker without USHER_SECRET refuses to start with a clear message', () => {
    const result = usher(['broker', '--port', '0']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /USHER_SECRET is not set/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('media without USHER_SECRET refuses to start', () => {
    const result = usher(['media', '--port', '0', '--id', 'm1']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /USHER_SECRET is not set/);
  });

  test('a short secret is refused without echoing it', () => {
    const result = usher(['broker', '--port', '0'], { USHER_SECRET: 'tiny-secret' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /shorter than 16/);
    assert.doesNotMatch(result.stderr, /tiny-secret/);
  });

  test('bad flag values name the flag', () => {
    const cases: Array<[string[], RegExp]> = [
      [['broker', '--port', 'abc'], /--port must be an integer/],
      [['broker', '--port', '70000'], /--port must be ≤ 65535/],
      [
        ['broker', '--ping-interval-ms', '3000', '--ping-timeout-ms', '2000'],
        /--ping-timeout-ms must be greater/,
      ],
      [['broker', '--bogus'], /Unknown option '--bogus'/],
      [['broker', '--rate-limit-per-min=-1'], /--rate-limit-per-min must be ≥ 0/],
      [['broker', '--rate-limit-burst', '0'], /--rate-limit-burst must be ≥ 1/],
      [['media', '--id', 'bad id!'], /--id must match/],
      [['media', '--id', 'm1', '--broker', 'ftp://x'], /--broker must start with http:\/\/ or https:\/\//],
      [['media', '--id', 'm1', '--public-url', 'ws://user:pw@host/'], /must not contain credentials/],
      [['media', '--id', 'm1', '--broker', 'http://b1:8080,ftp://b2'], /--broker must start with http:\/\//],
      [['broker', '--redis-url', 'http://127.0.0.1:6379'], /--redis-url must start with redis:\/\//],
      [['broker', '--redis-url', 'localhost'], /--redis-url is not a URL/],
    ];
    for (const [args, pattern] of cases) {
      const result = usher(args, { USHER_SECRET: SECRET });
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
  });

  test('short admin or metrics tokens are refused without echoing them', () => {
    for (const name of ['USHER_ADMIN_TOKEN', 'USHER_METRICS_TOKEN']) {
      const result = usher(['broker', '--port', '0'], { USHER_SECRET: SECRET, [name]: 'short-token' });
      assert.equal(result.status, 2, name);
      assert.match(result.stderr, new RegExp(`${name} is shorter than 16`));
      assert.doesNotMatch(result.stderr, /short-token/);
    }
  });

  test('a Redis password on the command line is refused without echoing it (the env variable is the place)', () => {
    const result = usher(['broker', '--redis-url', 'redis://:pw-hunter2@127.0.0.1:6379'], {
      USHER_SECRET: SECRET,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--redis-url must not contain a password.*USHER_REDIS_URL/);
    assert.doesNotMatch(result.stderr, /hunter2/);
  });

  test('broker in token mode (the default) without USHER_API_KEYS refuses to start, saying what to set', () => {
    const result = usher(['broker', '--port', '0'], { USHER_SECRET: SECRET });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /USHER_API_KEYS is not set/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    const bad = usher(['broker', '--auth', 'maybe'], { USHER_SECRET: SECRET });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--auth must be token or open/);
    const devOpen = usher(['broker', '--auth', 'open', '--dev-token-endpoint'], { USHER_SECRET: SECRET });
    assert.equal(devOpen.status, 2);
    assert.match(devOpen.stderr, /--dev-token-endpoint needs --auth token/);
  });

  test('broker --help documents the rate limit and the metrics token', () => {
    const result = usher(['broker', '--help']);
    for (const pattern of [
      /--rate-limit-per-min <n>/,
      /--rate-limit-burst <n>/,
      /USHER_METRICS_TOKEN/,
      /--auth <value>/,
      /USHER_API_KEYS/,
      /--dev-token-endpoint/,
    ])
      assert.match(result.stdout, pattern);
  });
});
