// docker-compose.yml cannot run here (no Docker engine), so it is validated with
// Debian's docker-compose and its services checked against the CLI they call.
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

test('docker-compose.yml is valid and defines broker, 3 media servers and coturn', () => {
  const result = compose(['config'], {
    USHER_SECRET: 'compose-test-secret-0123456789',
    USHER_TURN_SECRET: 'turn-secret',
  });
  assert.equal(result.status, 0, result.stderr);
  const services = compose(['config', '--services'], {
    USHER_SECRET: 'compose-test-secret-0123456789',
    USHER_TURN_SECRET: 'turn-secret',
  }).stdout.split('\n');
  for (const name of ['broker', 'media-1', 'media-2', 'media-3', 'coturn'])
    assert.ok(services.includes(name), name);
  assert.match(result.stdout, /- broker\n/);
  assert.match(result.stdout, /--broker\n\s+- http:\/\/broker:8080/);
});

test('docker-compose.yml refuses to start without the shared secret', () => {
  const result = compose(['config', '-q'], { USHER_TURN_SECRET: 'turn-secret' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /USHER_SECRET/);
});
