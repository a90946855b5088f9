// TLS served by the processes themselves: a join over https/wss (the media server's control
// channel over wss too), a SIGHUP that swaps the certificate while WebSockets stay open, and the
// refusals of a loopback media URL when the servers listen on a non-loopback address.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { freePort } from '../../shared/testing/free-port.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import { UsherSession } from '../../web/sdk/session.ts';
import { fakeRtc } from '../../web/sdk/testing/fake-rtc.ts';
import type { WebSocketConstructor } from '../../web/sdk/websocket.ts';
import { type Cleanup, FleetProcess, SECRET } from './testing/fleet-processes.ts';

const BIN = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));

/** A self-signed certificate for 127.0.0.1 (its own trust anchor), made with openssl. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function spawnUsher(
  t: Cleanup,
  name: string,
  args: string[],
  env: Record<string, string> = {},
): FleetProcess {
  // USHER_AUTH open: these members send no join tokens (admission has its own tests).
  const proc = new FleetProcess(name, process.execPath, [BIN, ...args], {
    USHER_SECRET: SECRET,
    USHER_AUTH: 'open',
    ...env,
  });
  t.after(() => proc.kill());
  proc.start();
  return proc;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to the port gets. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

function fingerprintOf(file: string): string {
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

test('https/wss join through a TLS broker and media server; SIGHUP swaps the certificate with WebSockets open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = makeCertificate(dir, 'first');
  const second = makeCertificate(dir, 'second');
  const ca = Buffer.concat([readFileSync(first.cert), readFileSync(second.cert)]);
  const bundle = join(dir, 'trusted.pem');
  writeFileSync(bundle, ca);
  // The files the servers read; overwritten with the second certificate before SIGHUP.
  const served = { cert: join(dir, 'served.pem'), key: join(dir, 'served-key.pem') };
  copyFileSync(first.cert, served.cert);
  copyFileSync(first.key, served.key);

  const brokerPort = await freePort();
  const mediaPort = await freePort();
  const tlsArgs = ['--tls-cert', served.cert, '--tls-key', served.key];
  const broker = spawnUsher(
    t,
    'broker',
    ['broker', '--port', String(brokerPort), '--rate-limit-per-min', '0', ...tlsArgs],
    {
      USHER_STATIC_DIR: join(dir, 'no-web'),
    },
  );
  const media = spawnUsher(
    t,
    'media',
    [
      'media',
      '--id',
      'tls-1',
      '--port',
      String(mediaPort),
      '--broker',
      `https://127.0.0.1:${brokerPort}`,
      ...tlsArgs,
    ],
    { NODE_EXTRA_CA_CERTS: bundle },
  );
  await waitUntil(
    async () => (await healthServers(brokerPort, ca)) === 1,
    'the media server to register over wss',
    60_000,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}\nbroker: ${broker.output().slice(-1500)}\nmedia: ${media.output().slice(-1500)}`,
    );
  });
  assert.equal(
    await healthServers(brokerPort, ca),
    1,
    'the control channel reached the https broker over wss',
  );

  class TrustingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  }
  const session = new UsherSession({
    brokerUrls: [`wss://127.0.0.1:${brokerPort}/v1/session`],
    room: 'tls-room',
    name: 'tls-member',
    WebSocket: TrustingWebSocket as unknown as WebSocketConstructor,
    createPeerConnection: fakeRtc('tls-').create,
  });
  t.after(() => session.leave());
  const failovers: unknown[] = [];
  session.on('failover-start', (event) => failovers.push(event));
  await session.join();
  assert.equal(session.serverId, 'tls-1');
  assert.equal(
    session.serverUrl,
    `wss://127.0.0.1:${mediaPort}/v1/media`,
    'the media URL is wss, from its TLS',
  );

  // A session WebSocket to the broker, held open across the reload.
  const held = new WebSocket(`wss://127.0.0.1:${brokerPort}/v1/session`, { ca });
  await new Promise<void>((resolve, reject) => {
    held.once('open', () => resolve());
    held.once('error', reject);
  });
  let heldClosed = false;
  held.once('close', () => {
    heldClosed = true;
  });
  t.after(() => held.terminate());

  assert.equal(await servedFingerprint(brokerPort, ca), fingerprintOf(first.cert));
  copyFileSync(second.cert, served.cert);
  copyFileSync(second.key, served.key);
  process.kill(broker.pid!, 'SIGHUP');
  process.kill(media.pid!, 'SIGHUP');
  const want = fingerprintOf(second.cert);
  await waitUntil(
    async () => (await servedFingerprint(brokerPort, ca)) === want,
    'the broker to serve the new certificate',
    10_000,
  );
  await waitUntil(
    async () => (await servedFingerprint(mediaPort, ca)) === want,
    'the media server to serve the new certificate',
    10_000,
  );
  // The log line follows the swap; its output may arrive a moment after the new certificate.
  await waitUntil(
    () =>
      broker.logRecords('tls certificate reloaded').length === 1 &&
      media.logRecords('tls certificate reloaded').length === 1,
    'one reload line from each',
    5000,
  );

  assert.equal(
    held.readyState,
    WebSocket.OPEN,
    'the broker WebSocket opened before the reload is still open',
  );
  assert.equal(heldClosed, false);
  assert.equal(session.state, 'joined', 'the member is still in its room');
  assert.equal(failovers.length, 0, 'the media WebSocket was not lost');
  assert.equal(await healthServers(brokerPort, ca), 1, 'the control channel stayed up');

  // A new join gets the new certificate and the same server.
  const second_ = new UsherSession({
    brokerUrls: [`wss://127.0.0.1:${brokerPort}/v1/session`],
    room: 'tls-room',
    name: 'tls-newcomer',
    WebSocket: TrustingWebSocket as unknown as WebSocketConstructor,
    createPeerConnection: fakeRtc('tls2-').create,
  });
  t.after(() => second_.leave());
  await second_.join();
  assert.equal(second_.serverId, 'tls-1');
});

async function healthServers(port: number, ca: Buffer): Promise<number | undefined> {
  const { request } = await import('node:https');
  return new Promise((resolve) => {
    const req = request(`https://127.0.0.1:${port}/healthz`, { ca, timeout: 2000 }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () => {
        try {
          resolve((JSON.parse(text) as { servers?: number }).servers);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

test('a media server listening on all addresses without --public-host/--public-url refuses to start (exit 2)', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'media', '--host', '0.0.0.0', '--port', String(port)], {
    env: { PATH: process.env.PATH ?? '', USHER_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 2, output);
  assert.match(output, /loopback address: set --public-host/);
});

test('a broker listening on all addresses refuses a media server that announces a loopback URL, unless --allow-loopback-media', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { USHER_STATIC_DIR: join(dir, 'no-web') };
  const publicPort = await freePort();
  const lenientPort = await freePort();
  // Listening on 0.0.0.0; every request of this test still goes to 127.0.0.1.
  const strict = spawnUsher(t, 'strict', ['broker', '--host', '0.0.0.0', '--port', String(publicPort)], env);
  spawnUsher(
    t,
    'lenient',
    ['broker', '--host', '0.0.0.0', '--port', String(lenientPort), '--allow-loopback-media'],
    env,
  );
  const brokers = `http://127.0.0.1:${publicPort},http://127.0.0.1:${lenientPort}`;
  spawnUsher(t, 'media', [
    'media',
    '--id',
    'loop-1',
    '--port',
    String(await freePort()),
    '--broker',
    brokers,
  ]);
  await waitUntil(
    () => strict.logRecords('control connection refused').some((record) => record.code === 'BAD_SERVER_URL'),
    `the strict broker to refuse the loopback URL (output: ${strict.output().slice(-2000)})`,
    30_000,
  );
  const refusal = strict.logRecords('control connection refused').find((r) => r.code === 'BAD_SERVER_URL');
  assert.match(String(refusal?.why), /loop-1 announces the loopback URL ws:\/\/127\.0\.0\.1:\d+\/v1\/media/);
  await waitUntil(
    async () => {
      try {
        const body = (await (await fetch(`http://127.0.0.1:${lenientPort}/healthz`)).json()) as {
          servers: number;
        };
        return body.servers === 1;
      } catch {
        return false;
      }
    },
    'the lenient broker to register the server',
    30_000,
  );
  const strictHealth = (await (await fetch(`http://127.0.0.1:${publicPort}/healthz`)).json()) as {
    servers: number;
  };
  assert.equal(strictHealth.servers, 0);
  assert.equal((await fetch(`http://127.0.0.1:${publicPort}/readyz`)).status, 503);
});
