// Runs docker-compose.yml's own services as local processes (there is no Docker engine
// here): the file is resolved by docker-compose with .env.example's values (throwaway
// secrets), and each service's command, entrypoint, environment, volumes and ports become a
// process on 127.0.0.1 — service hostnames and container ports map to free local ports. So
// a wrong flag, variable, port or HAProxy route in the compose file fails here.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { parse } from 'yaml';
import type { ApiKey } from '../../server/common/join-token.ts';
import { createJoinToken } from '../../server/sdk/index.ts';
import { freePort } from '../../shared/testing/free-port.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import { type FleetProcess, httpStatus, FleetProcess as Process } from './testing/fleet-processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'usher.mjs');
const HAPROXY = process.env.USHER_TEST_HAPROXY ?? '/usr/sbin/haproxy';
/** The image's WORKDIR: paths under it are the repository's files here. */
const IMAGE_APP_DIR = '/app/';

interface Service {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  expose?: Array<string | number>;
  ports?: Array<{ published: number | string; target: number; protocol?: string }>;
  /** docker-compose 1.29 writes the short form (`source:target[:mode]`), current Compose the long one. */
  volumes?: Array<string | { type: string; source?: string; target: string }>;
}

function volumeOf(entry: string | { type: string; source?: string; target: string }) {
  if (typeof entry !== 'string')
    return { named: entry.type === 'volume', source: entry.source ?? '', target: entry.target };
  const [source = '', target = ''] = entry.split(':');
  return { named: !source.startsWith('/') && !source.startsWith('.'), source, target };
}

/** .env.example with every secret replaced by a throwaway one and the host ports made free. */
function testEnv(ports: { https: number; http: number }, apiKey: ApiKey): string {
  const secret = () => randomBytes(24).toString('base64url');
  return readFileSync(join(root, '.env.example'), 'utf8')
    .split('\n')
    .map((line) => {
      const [name, value] = line.split('=', 2);
      if (name === undefined || value === undefined || line.startsWith('#')) return line;
      if (name === 'USHER_API_KEYS') return `${name}=${apiKey.id}:${apiKey.secret}`;
      if (value.startsWith('change-me')) return `${name}=${secret()}`;
      if (name === 'HTTPS_PORT') return `${name}=${ports.https}`;
      if (name === 'HTTP_PORT') return `${name}=${ports.http}`;
      if (name === 'TURN_EXTERNAL_IP') return `${name}=127.0.0.1`;
      return line;
    })
    .join('\n');
}

function httpsRequest(
  url: string,
  ca: string,
  body?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

test('docker-compose.yml run as local processes: a session through the TLS front reaches a media server', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'usher-compose-run-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const hostPorts = { https: await freePort(), http: await freePort() };
  const envFile = join(scratch, '.env');
  // The application's backend's key: the test signs the join token a real backend would.
  const apiKey: ApiKey = { id: 'test', secret: randomBytes(36).toString('base64url') };
  writeFileSync(envFile, testEnv(hostPorts, apiKey));
  const resolved = spawnSync(
    'docker-compose',
    ['-f', join(root, 'docker-compose.yml'), '--env-file', envFile, 'config'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    },
  );
  assert.equal(resolved.status, 0, resolved.stderr);
  const services = (parse(resolved.stdout) as { services: Record<string, Service> }).services;

  // hostname:containerPort → 127.0.0.1:localPort. Published ports keep their host port (the
  // public URLs name it); the rest get free ones.
  const addresses = new Map<string, number>();
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? [])
      if (port.protocol !== 'udp') addresses.set(`${name}:${port.target}`, Number(port.published));
    for (const port of service.expose ?? [])
      if (!addresses.has(`${name}:${port}`)) addresses.set(`${name}:${port}`, await freePort());
  }
  const local = (name: string, port: string | number): number => {
    const mapped = addresses.get(`${name}:${port}`);
    assert.ok(mapped !== undefined, `${name} listens on ${port}, which it neither exposes nor publishes`);
    return mapped;
  };
  const rewrite = (text: string): string =>
    text
      .replace(/\b([a-z][a-z0-9-]*):(\d+)\b/g, (whole, host: string, port: string) => {
        const mapped = addresses.get(`${host}:${port}`);
        return mapped === undefined ? whole : `127.0.0.1:${mapped}`;
      })
      .replaceAll('0.0.0.0', '127.0.0.1');
  // Named volumes become folders of the scratch dir; bind mounts stay the repository's files.
  const volumePath = (service: Service, path: string): string => {
    for (const volume of (service.volumes ?? []).map(volumeOf)) {
      if (path !== volume.target && !path.startsWith(`${volume.target}/`)) continue;
      const source = volume.named ? join(scratch, 'volumes', volume.source) : resolve(root, volume.source);
      if (volume.named) mkdirSync(source, { recursive: true });
      return source + path.slice(volume.target.length);
    }
    if (path.startsWith(IMAGE_APP_DIR)) return join(root, path.slice(IMAGE_APP_DIR.length));
    return path;
  };
  const localPath = (service: Service, value: string): string =>
    value.startsWith('/') ? volumePath(service, value) : value;
  const environment = (name: string, service: Service): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (value === null) continue;
      // The listening port of an usher process is its container port: map it, do not rewrite it.
      env[key] =
        key === 'USHER_PORT' || key === 'USHER_MEDIA_PORT'
          ? String(local(name, value))
          : localPath(service, rewrite(value));
    }
    return env;
  };
  const started: FleetProcess[] = [];
  const startProcess = (
    name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
  ): FleetProcess => {
    const proc = new Process(name, command, args, env);
    t.after(() => proc.kill());
    proc.start();
    started.push(proc);
    return proc;
  };
  const get = (name: string): Service => {
    const service = services[name];
    assert.ok(service !== undefined, `no service ${name}`);
    return service;
  };

  // tls-init: its entrypoint (a script from the image) with its volume, to completion.
  const init = get('tls-init');
  const [initCommand, ...initArgs] = (init.entrypoint ?? []).map((arg) => localPath(init, arg));
  assert.ok(initCommand !== undefined);
  const made = spawnSync(initCommand, initArgs, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...environment('tls-init', init) },
    timeout: 20_000,
  });
  assert.equal(made.status, 0, made.stderr + made.stdout);
  const certificate = readFileSync(volumePath(init, '/certs/usher.crt'), 'utf8');

  // redis: its command, held to its mapped port on loopback.
  const redis = get('redis');
  const [redisCommand, ...redisArgs] = redis.command ?? [];
  assert.equal(redisCommand, 'redis-server');
  startProcess(
    'redis',
    'redis-server',
    [...redisArgs, '--port', String(local('redis', 6379)), '--bind', '127.0.0.1'],
    {},
  );

  // Usher services: the image's entrypoint (node bin/usher.mjs) and each one's command.
  const usherServices = Object.entries(services).filter(
    ([name, s]) => s.image === 'usher:latest' && name !== 'tls-init',
  );
  assert.deepEqual(usherServices.map(([name]) => name).sort(), [
    'broker-1',
    'broker-2',
    'media-1',
    'media-2',
    'media-3',
  ]);
  for (const [name, service] of usherServices)
    startProcess(
      name,
      process.execPath,
      [BIN, ...(service.command ?? []).map(rewrite)],
      environment(name, service),
    );

  // The front: HAProxy with the compose file's config, mounted paths and addresses mapped.
  const front = get('front');
  const [frontCommand, ...frontArgs] = front.command ?? [];
  assert.equal(frontCommand, 'haproxy');
  const configIndex = frontArgs.indexOf('-f') + 1;
  const configPath = volumePath(front, frontArgs[configIndex] ?? '');
  const config = readFileSync(configPath, 'utf8')
    .replace(
      /^(\s*bind\s+):(\d+)/gm,
      (_whole, bind: string, port: string) => `${bind}127.0.0.1:${local('front', port)}`,
    )
    .replace(/\s(\/certs\/\S+)/g, (_whole, path: string) => ` ${volumePath(front, path)}`);
  const localConfig = join(scratch, 'haproxy.cfg');
  writeFileSync(localConfig, rewrite(config));
  frontArgs[configIndex] = localConfig;
  const haproxy = startProcess('front', HAPROXY, frontArgs, {});

  const brokerUrl = (name: string) => `http://127.0.0.1:${local(name, 8080)}`;
  const dump = () => started.map((p) => `--- ${p.name}\n${p.output().slice(-2000)}`).join('\n');
  try {
    for (const broker of ['broker-1', 'broker-2'])
      await waitUntil(
        async () => (await httpStatus(`${brokerUrl(broker)}/readyz`)) === 200,
        `${broker} ready`,
        40_000,
      );

    const frontUrl = `https://127.0.0.1:${hostPorts.https}`;
    // The front's own health checks (every second, two in a row) must see a ready broker.
    await waitUntil(
      async () =>
        (await httpsRequest(`${frontUrl}/readyz`, certificate).catch(() => undefined))?.status === 200,
      'the front to route to a ready broker',
      15_000,
    );
    const answer = await httpsRequest(
      `${frontUrl}/v1/sessions`,
      certificate,
      JSON.stringify({
        type: 'session.request',
        v: 1,
        id: 'r1',
        room: 'compose-room',
        token: createJoinToken({ apiKey, room: 'compose-room', identity: 'compose-user' }),
      }),
    );
    assert.equal(answer.status, 200, answer.body);
    const assigned = JSON.parse(answer.body) as { server: { id: string; url: string }; ticket: string };
    assert.match(
      assigned.server.url,
      new RegExp(`^wss://localhost:${hostPorts.https}/m/media-[123]/v1/media$`),
    );

    // The media server's public URL goes through the front (the certificate names 127.0.0.1
    // too; localhost may resolve to ::1, where the front does not listen here).
    const socket = new WebSocket(assigned.server.url.replace('localhost', '127.0.0.1'), { ca: certificate });
    t.after(() => socket.terminate());
    const joined = await new Promise<Record<string, unknown>>((resolvePromise, reject) => {
      socket.once('error', reject);
      socket.once('open', () =>
        socket.send(JSON.stringify({ type: 'join', v: 1, ticket: assigned.ticket, room: 'compose-room' })),
      );
      socket.once('message', (data) => resolvePromise(JSON.parse(String(data)) as Record<string, unknown>));
    });
    assert.equal(joined.type, 'joined', JSON.stringify(joined));
    assert.deepEqual(joined.server, { id: assigned.server.id });

    // Metrics: not through the front; on a broker only with its token.
    assert.equal((await httpsRequest(`${frontUrl}/metrics`, certificate)).status, 404);
    assert.equal(await httpStatus(`${brokerUrl('broker-1')}/metrics`), 401);
    const token = services['broker-1']?.environment?.USHER_METRICS_TOKEN ?? '';
    const scraped = await fetch(`${brokerUrl('broker-1')}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(scraped.status, 200);
    // Plain HTTP only redirects to HTTPS.
    const plain = await fetch(`http://127.0.0.1:${hostPorts.http}/`, { redirect: 'manual' });
    assert.equal(plain.status, 301);
    assert.ok(existsSync(configPath));
  } catch (error) {
    (error as Error).message += `\n${dump()}`;
    throw error;
  }
  assert.ok(haproxy.running(), 'the front is still up');
});
