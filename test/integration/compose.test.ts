// docker-compose.yml cannot run here (no Docker engine), so it is validated with Debian's
// docker-compose 1.29 (current Compose reads the same file); compose-processes.test.ts runs
// its services' own commands as local processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const composeFile = join(root, 'docker-compose.yml');
const envExample = join(root, '.env.example');

/** `docker-compose config` with only this env file (never a developer's own .env). */
function compose(envText: string, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'usher-compose-'));
  try {
    const envFile = join(dir, '.env');
    writeFileSync(envFile, envText);
    return spawnSync('docker-compose', ['-f', composeFile, '--env-file', envFile, 'config', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Service {
  image?: string;
  environment?: Record<string, string>;
  ports?: Array<{ published: number | string; target: number; protocol?: string }>;
  network_mode?: string;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
}

test('docker-compose.yml with .env.example as written: redis, 2 brokers, 3 media servers, coturn and a TLS front', () => {
  const result = compose(readFileSync(envExample, 'utf8'));
  assert.equal(result.status, 0, result.stderr);
  const config = parse(result.stdout) as { services: Record<string, Service> };
  const names = Object.keys(config.services).sort();
  assert.deepEqual(names, [
    'broker-1',
    'broker-2',
    'coturn',
    'front',
    'media-1',
    'media-2',
    'media-3',
    'redis',
    'tls-init',
  ]);
  // Only the front and TURN are published: the app is on one URL.
  const published = Object.entries(config.services).filter(([, s]) => (s.ports ?? []).length > 0);
  assert.deepEqual(published.map(([name]) => name).sort(), ['coturn', 'front']);
  for (const [name, service] of Object.entries(config.services))
    assert.equal(service.network_mode, undefined, `${name} must not need host networking`);
  for (const name of ['broker-1', 'broker-2']) {
    const env = config.services[name]?.environment ?? {};
    assert.equal(env.USHER_REDIS_URL, 'redis://redis:6379');
    assert.ok((env.USHER_METRICS_TOKEN ?? '').length >= 16, 'metrics are protected by a token');
  }
  // HAProxy starts only once the certificate it loads exists.
  assert.equal(config.services.front?.depends_on?.['tls-init']?.condition, 'service_completed_successfully');
  const coturn = config.services.coturn?.command ?? [];
  assert.ok(coturn.includes('--external-ip=203.0.113.10'), 'coturn advertises TURN_EXTERNAL_IP');
  assert.ok(!coturn.includes('--allow-loopback-peers'));
});

test('docker-compose.yml refuses to start while a required secret is unset', () => {
  const full = readFileSync(envExample, 'utf8');
  for (const name of [
    'USHER_SECRET',
    'USHER_API_KEYS',
    'USHER_ADMIN_TOKEN',
    'USHER_METRICS_TOKEN',
    'USHER_TURN_SECRET',
    'TURN_EXTERNAL_IP',
  ]) {
    const without = full
      .split('\n')
      .filter((line) => !line.startsWith(`${name}=`))
      .join('\n');
    const result = compose(without, ['-q']);
    assert.notEqual(result.status, 0, `starts without ${name}`);
    assert.match(result.stderr, new RegExp(`set ${name}`));
  }
});

test('.env.example documents every variable docker-compose.yml reads, with placeholders only', () => {
  const example = readFileSync(envExample, 'utf8');
  const defined = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
  const used = new Set([...readFileSync(composeFile, 'utf8').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]));
  for (const name of used) assert.ok(defined.has(name), `${name} is used but not in .env.example`);
  for (const line of example.split('\n')) {
    const secret = /^(USHER_[A-Z_]*(SECRET|TOKEN|KEYS))=(.*)$/.exec(line);
    if (secret !== null) assert.match(secret[3] ?? '', /change-me/, `${secret[1]} must be a placeholder`);
  }
});
