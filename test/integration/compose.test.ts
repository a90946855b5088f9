// docker-compose.yml cannot run here (no Docker engine), so it is validated with
// Debian's docker-compose and its services checked against the CLI they call
// (test/integration/multi-broker.test.ts runs the same topology in process).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const composeFile = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));

function compose(args: string[], env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', composeFile, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

test('docker-compose.yml is valid and defines redis, 2 brokers, 3 media servers and coturn', () => {
  const env = {
    USHER_SECRET: 'compose-test-secret-0123456789',
    USHER_TURN_SECRET: 'turn-secret',
    USHER_API_KEYS: `app:${'k'.repeat(32)}`,
  };
  const result = compose(['config'], env);
  assert.equal(result.status, 0, result.stderr);
  const services = compose(['config', '--services'], env).stdout.split('\n');
  for (const name of ['redis', 'broker', 'broker-2', 'media-1', 'media-2', 'media-3', 'coturn'])
    assert.ok(services.includes(name), name);
  assert.match(result.stdout, /image: redis:7-alpine/);
  // Both brokers share pins through the same Redis; each media server registers with both.
  assert.equal(result.stdout.match(/USHER_REDIS_URL: redis:\/\/redis:6379/g)?.length, 2);
  assert.equal(
    result.stdout.match(/--broker\n\s+- http:\/\/broker:8080,http:\/\/broker-2:8080\n/g)?.length,
    3,
  );
  assert.match(result.stdout, /published: 8081\n\s+target: 8080/);
});

test('docker-compose.yml refuses to start without the shared secret', () => {
  const result = compose(['config', '-q'], {
    USHER_TURN_SECRET: 'turn-secret',
    USHER_API_KEYS: `app:${'k'.repeat(32)}`,
  });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /USHER_SECRET/);
});
