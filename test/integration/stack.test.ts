// `usher stack` (what `npm start` runs): a broker and three media servers as separate
// processes, ready when it says so, and every child gone after Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A broker port and a run of three media ports, all free right now. */
async function freePorts(): Promise<{ broker: number; media: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = [base, base + 1, base + 2, base + 3];
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return { broker: base, media: base + 1 };
  }
  throw new Error('no free ports found');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A stack starts five processes under tsx: on a loaded 2-core machine that took over 30 s (a fresh-clone run). */
const BANNER_WAIT_MS = 90_000;

async function until<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('usher stack starts a broker and 3 media servers, prints the URL, and stops them all on SIGINT', async (t) => {
  const ports = await freePorts();
  const stack = spawn(
    process.execPath,
    [bin, 'stack', '--port', String(ports.broker), '--media-base-port', String(ports.media)],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  stack.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  stack.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => stack.once('exit', (code) => resolve(code)));
  const childPids = (): number[] => [...output.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
  t.after(() => {
    for (const pid of childPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (stack.exitCode === null) stack.kill('SIGKILL');
  });

  await until(
    'the ready banner',
    () => (output.includes('Usher is running') ? true : undefined),
    BANNER_WAIT_MS,
  );
  assert.match(output, new RegExp(`Open http://localhost:${ports.broker}/\\?room=lobby`));
  assert.match(output, /random dev secret/);
  const pids = childPids();
  assert.equal(pids.length, 4, output);
  const health = (await (await fetch(`http://127.0.0.1:${ports.broker}/healthz`)).json()) as {
    servers: number;
  };
  assert.equal(health.servers, 3);
  const page = await fetch(`http://127.0.0.1:${ports.broker}/`);
  assert.equal(page.status, 200, 'the broker serves the web app (built by the test runner before this)');

  // Token mode with the dev token endpoint: no token is refused, the endpoint's token admits.
  const base = `http://127.0.0.1:${ports.broker}`;
  const request = { type: 'session.request', v: 1, id: 'r1', room: 'lobby' };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const refused = await post('/v1/sessions', request);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { code: string }).code, 'TOKEN_MISSING');
  const minted = (await (await post('/dev/token', { room: 'lobby', name: 'Ada' })).json()) as {
    token: string;
  };
  assert.equal(typeof minted.token, 'string');
  const admitted = await post('/v1/sessions', request, { authorization: `Bearer ${minted.token}` });
  assert.equal(admitted.status, 200);
  assert.match(output, /DEV TOKEN ENDPOINT IS ON/);

  stack.kill('SIGINT');
  assert.equal(await exited, 0);
  await until('every child to exit', () => (pids.every((pid) => !alive(pid)) ? true : undefined), 10_000);
});

/** Name → pid from the ready banner's rows ("  broker    pid 123  http://…"). */
function bannerPids(output: string): Map<string, number> {
  const banner = output.slice(output.indexOf('Usher is running'));
  return new Map([...banner.matchAll(/^ {2}(\S+)\s+pid (\d+) /gm)].map((m) => [m[1]!, Number(m[2])]));
}

test('usher stack restarts a killed broker while the media servers keep running, and SIGINT stops every child', async (t) => {
  const ports = await freePorts();
  const stack = spawn(
    process.execPath,
    [bin, 'stack', '--port', String(ports.broker), '--media-base-port', String(ports.media)],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  stack.stdout.on('data', collect);
  stack.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => stack.once('exit', (code) => resolve(code)));
  const everyPid = (): number[] => [...output.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
  t.after(() => {
    for (const pid of everyPid()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (stack.exitCode === null) stack.kill('SIGKILL');
  });
  await until(
    'the ready banner',
    () => (output.includes('Usher is running') ? true : undefined),
    BANNER_WAIT_MS,
  );
  const pids = bannerPids(output);
  const brokerPid = pids.get('broker');
  assert.ok(brokerPid !== undefined, output);
  const mediaPids = ['media-1', 'media-2', 'media-3'].map((name) => pids.get(name));
  assert.ok(
    mediaPids.every((pid) => pid !== undefined),
    output,
  );
  const readyz = `http://127.0.0.1:${ports.broker}/readyz`;
  const answersReady = async (): Promise<true | undefined> => {
    try {
      return (await fetch(readyz)).status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  };
  // The banner comes first; the media servers' registrations and the warm-up follow it.
  await until('/readyz to answer 200', answersReady);

  process.kill(brokerPid, 'SIGKILL');
  const restarted = await until('the broker to be started again', () => {
    const match = /broker restarted, pid (\d+)/.exec(output);
    return match === null ? undefined : Number(match[1]);
  });
  assert.notEqual(restarted, brokerPid);
  assert.match(output, new RegExp(`broker \\(pid ${brokerPid}\\) exited \\(SIGKILL\\); restarting in 1 s`));
  await until('/readyz to answer 200 again', answersReady);
  for (const pid of mediaPids) assert.ok(alive(pid!), `media server ${pid} kept running`);
  assert.doesNotMatch(output, /media-\d restarted/, 'no media server was restarted');

  stack.kill('SIGINT');
  assert.equal(await exited, 0);
  const all = [restarted, ...mediaPids.map(Number)];
  await until('every child to exit', () => (all.every((pid) => !alive(pid)) ? true : undefined), 10_000);
});

test('usher stack --lan makes a local CA once and serves https on every address (checked through 127.0.0.1 only)', async (t) => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { request } = await import('node:https');
  const stateDir = mkdtempSync(join(tmpdir(), 'usher-lan-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const ports = await freePorts();
  const stack = spawn(
    process.execPath,
    [
      bin,
      'stack',
      '--lan',
      '--state-dir',
      stateDir,
      '--port',
      String(ports.broker),
      '--media-base-port',
      String(ports.media),
    ],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  stack.stdout.on('data', collect);
  stack.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => stack.once('exit', (code) => resolve(code)));
  t.after(() => {
    for (const pid of [...output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])))
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (stack.exitCode === null) stack.kill('SIGKILL');
  });
  await until(
    'the ready banner',
    () => (output.includes('Usher is running') ? true : undefined),
    BANNER_WAIT_MS,
  );
  assert.match(output, new RegExp(`Open https://[\\d.]+:${ports.broker}/\\?room=lobby`));
  assert.match(output, /iOS: /);
  assert.match(output, /Android: /);
  assert.match(output, new RegExp(`media-1\\s+pid \\d+  wss://[\\d.]+:${ports.media}/v1/media`));
  const caFile = join(stateDir, 'lan', 'usher-local-ca.pem');
  const ca = readFileSync(caFile);
  const readyz = (): Promise<number> =>
    new Promise<number>((resolve) => {
      const req = request(`https://127.0.0.1:${ports.broker}/readyz`, { ca }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  // The banner comes when the processes are up; readiness follows the media servers' wss
  // registrations and the broker's warm-up.
  let status = 0;
  await until(
    '/readyz 200 over https',
    async () => {
      status = await readyz();
      return status === 200 ? true : undefined;
    },
    20_000,
  ).catch(() => undefined);
  assert.equal(status, 200, 'https with the local CA, and the media servers registered over wss');
  stack.kill('SIGINT');
  assert.equal(await exited, 0);
});
