// `usher stack`: the whole local system on one machine, each server its own supervised
// process, so killing one is a real failure a person can watch — and watch come back.
// One broker by default; `--brokers 2 --redis` is the several-broker topology behind one
// HAProxy front; `--lan` serves https/wss on this machine's addresses for phones.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsherConfigError } from '../common/config-error.ts';
import { isLoopbackHost } from '../common/tls.ts';
import { ephemeralRedisArgs, REDIS_SERVER } from './ephemeral-redis.ts';
import { haproxyConfig } from './haproxy-config.ts';
import { ensureLanCertificate, type LanCertificate, lanAddresses, trustInstructions } from './lan-cert.ts';
import { formatLogLine } from './log-format.ts';
import { formatHelp, type OptionTable, parseOptions } from './options.ts';
import { REPO_ROOT, USHER_BIN } from './paths.ts';
import { type SupervisedChild, Supervisor } from './supervisor.ts';

export const stackOptions = {
  host: {
    kind: 'string',
    env: 'USHER_HOST',
    default: '127.0.0.1',
    help: 'address the broker (or front) listens on',
  },
  port: { kind: 'int', env: 'USHER_PORT', default: 8080, min: 1, max: 65535, help: 'the port clients use' },
  'media-count': { kind: 'int', default: 3, min: 1, max: 20, help: 'how many media servers to start' },
  'media-base-port': { kind: 'int', default: 8101, min: 1, max: 65500, help: 'first media server port' },
  lan: {
    kind: 'bool',
    default: false,
    help: "serve https/wss on 0.0.0.0 with a local CA's certificate for this machine's addresses (made once under --state-dir)",
  },
  brokers: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 9,
    help: 'brokers; more than one needs --redis and puts HAProxy in front on --port',
  },
  redis: {
    kind: 'bool',
    default: false,
    help: 'start redis-server (no persistence) and share room pins through it',
  },
  'broker-base-port': {
    kind: 'int',
    default: 8091,
    min: 1,
    max: 65500,
    help: 'first broker port behind the front',
  },
  'redis-port': { kind: 'int', default: 6391, min: 1, max: 65535, help: 'redis-server port' },
  'turn-port': {
    kind: 'int',
    default: 3478,
    min: 0,
    max: 65535,
    help: 'with --brokers/--redis: coturn port when turnserver is installed (0: no coturn)',
  },
  'state-dir': {
    kind: 'string',
    env: 'USHER_STATE_DIR',
    help: 'where --lan keeps its CA and certificate (default: .usher/ in the repository)',
  },
  json: { kind: 'bool', default: false, help: 'print raw JSON log lines instead of the readable form' },
} as const satisfies OptionTable;

export const stackHelp = formatHelp(
  'stack',
  'the local stack: a broker on :8080 serving the app and 3 media servers on :8101-8103, each restarted if it dies',
  stackOptions,
  `
Environment: USHER_SECRET and USHER_API_KEYS (optional here: random dev values are made for the
run when unset). The broker runs in token mode with its dev token endpoint (POST /dev/token),
which the app uses to get a join token: a real deployment mints tokens in its own backend
(docs/INTEGRATION.md).
Other broker/media settings (ping, heartbeat, TURN…) come from the same env variables as
\`usher broker\` and \`usher media\`.
A server that dies is started again after 1 s (up to 30 s if it keeps dying); Ctrl-C stops all.
`,
);

const TURNSERVER = '/usr/bin/turnserver';
const HAPROXY = '/usr/sbin/haproxy';
/** Generous: a busy two-core machine takes seconds to start each TypeScript process. */
const STARTUP_WAIT_MS = 60_000;

interface Layout {
  /** What a browser opens. */
  publicUrl: string;
  /** What the media servers register with (each broker, directly). */
  brokerUrls: string[];
  /** Brokers' listen address and ports. */
  brokerHost: string;
  brokerPorts: number[];
  front: boolean;
  cert: LanCertificate | undefined;
  /** The address media servers hand out (their --public-host). */
  mediaPublicHost: string | undefined;
  mediaHost: string;
}

export async function runStack(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseOptions('stack', stackOptions, argv, env);
  if (options.brokers > 1 && !options.redis)
    throw new UsherConfigError(
      'usher stack: --brokers above 1 needs --redis (they share room pins through it)',
    );
  const childEnv: NodeJS.ProcessEnv = { ...env };
  if ((env.USHER_SECRET ?? '') === '') {
    childEnv.USHER_SECRET = randomBytes(32).toString('base64url');
    console.log('usher stack: USHER_SECRET is not set; using a random dev secret for this run.');
  }
  if ((env.USHER_API_KEYS ?? '') === '') {
    childEnv.USHER_API_KEYS = `dev:${randomBytes(32).toString('base64url')}`;
    console.log('usher stack: USHER_API_KEYS is not set; using a random dev API key for this run.');
  }
  const layout = plan(options);
  if (layout.cert !== undefined) childEnv.NODE_EXTRA_CA_CERTS = layout.cert.caFile;
  const runDir = mkdtempSync(join(tmpdir(), 'usher-stack-'));

  const supervisor = new Supervisor({
    onLine: (name, line) => {
      let parsed: Record<string, unknown> | undefined;
      if (line.startsWith('{')) {
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
      }
      console.log(options.json ? line : formatLogLine(name, line, parsed));
    },
    say: (message) => console.log(`usher stack: ${message}`),
  });
  let stopping: Promise<never> | undefined;
  const stopAll = (code: number): Promise<never> => {
    stopping ??= (async () => {
      await supervisor.stopAll();
      rmSync(runDir, { recursive: true, force: true });
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  const usher = (name: string, args: string[], ready: string) =>
    supervisor.start({
      name,
      command: process.execPath,
      args: [USHER_BIN, ...args],
      env: childEnv,
      ready: (line) => line.includes(`"msg":"${ready}"`),
    });

  try {
    const shown: Array<{ child: SupervisedChild; url: string }> = [];
    if (options.redis) {
      const redis = await supervisor.start({
        name: 'redis',
        command: REDIS_SERVER,
        args: ephemeralRedisArgs(options['redis-port'], runDir),
        env: childEnv,
        ready: (line) => line.includes('Ready to accept connections'),
      });
      shown.push({ child: redis, url: `redis://127.0.0.1:${options['redis-port']}` });
    }
    // Token mode as in production, plus the dev endpoint that signs tokens for the app; an explicit
    // USHER_AUTH=open (tests whose clients carry no token) is left to the brokers.
    const brokerArgs: string[] =
      (env.USHER_AUTH ?? '') === '' || env.USHER_AUTH === 'token'
        ? ['--auth', 'token', '--dev-token-endpoint']
        : [];
    if (options.redis) brokerArgs.push('--redis-url', `redis://127.0.0.1:${options['redis-port']}`);
    if (layout.front) brokerArgs.push('--trust-proxy');
    if (layout.cert !== undefined && !layout.front)
      brokerArgs.push('--tls-cert', layout.cert.certFile, '--tls-key', layout.cert.keyFile);
    const turn =
      layout.front || options.redis
        ? startTurn(supervisor, options['turn-port'], layout, runDir, childEnv)
        : undefined;
    if (turn !== undefined) {
      brokerArgs.push('--turn-urls', turn.urls.join(','));
      shown.push({ child: await turn.child, url: turn.urls.join(' ') });
    }
    const brokers = await Promise.all(
      layout.brokerPorts.map((port, index) =>
        usher(
          layout.brokerPorts.length === 1 ? 'broker' : `broker-${index + 1}`,
          ['broker', '--host', layout.brokerHost, '--port', String(port), ...brokerArgs],
          'broker listening',
        ),
      ),
    );
    for (const [index, child] of brokers.entries()) shown.push({ child, url: layout.brokerUrls[index]! });
    const mediaArgs: string[] = ['--host', layout.mediaHost];
    if (layout.mediaPublicHost !== undefined) mediaArgs.push('--public-host', layout.mediaPublicHost);
    if (layout.cert !== undefined)
      mediaArgs.push('--tls-cert', layout.cert.certFile, '--tls-key', layout.cert.keyFile);
    const media = await Promise.all(
      Array.from({ length: options['media-count'] }, (_, index) => {
        const id = `media-${index + 1}`;
        const port = options['media-base-port'] + index;
        return usher(
          id,
          [
            'media',
            '--id',
            id,
            '--port',
            String(port),
            '--broker',
            layout.brokerUrls.join(','),
            ...mediaArgs,
          ],
          'media server listening',
        ).then((child) => ({ child, id, port }));
      }),
    );
    const mediaScheme = layout.cert === undefined ? 'ws' : 'wss';
    for (const { child, port } of media)
      shown.push({
        child,
        url: `${mediaScheme}://${layout.mediaPublicHost ?? '127.0.0.1'}:${port}/v1/media`,
      });
    const ca = layout.cert === undefined ? undefined : readFileSync(layout.cert.caFile);
    await Promise.all(layout.brokerUrls.map((url) => waitForServers(url, options['media-count'], ca)));
    if (layout.front) {
      const front = await startFront(supervisor, options, layout, runDir, childEnv);
      shown.push({ child: front, url: layout.publicUrl });
    }
    printBanner(options, layout, shown);
  } catch (error) {
    console.error(`usher stack: ${(error as Error).message}`);
    await stopAll(1);
  }
}

function plan(options: ReturnType<typeof parseOptions<typeof stackOptions>>): Layout {
  const front = options.brokers > 1;
  let cert: LanCertificate | undefined;
  let mediaPublicHost: string | undefined;
  let host = options.host;
  let mediaHost = '127.0.0.1';
  if (!options.lan && !isLoopbackHost(options.host))
    throw new UsherConfigError(
      `usher stack: --host ${options.host} would serve plain http to other machines, where browsers give no camera: use --lan (https on every address), or run usher broker/media yourself behind a TLS front`,
    );
  if (options.lan) {
    const addresses = lanAddresses();
    if (addresses.length === 0)
      throw new UsherConfigError('usher stack --lan: this machine has no LAN (non-loopback IPv4) address');
    cert = ensureLanCertificate(join(options['state-dir'] ?? join(REPO_ROOT, '.usher'), 'lan'), addresses);
    host = '0.0.0.0';
    mediaHost = '0.0.0.0';
    mediaPublicHost = addresses[0];
  }
  const scheme = cert === undefined ? 'http' : 'https';
  const brokerPorts = front
    ? Array.from({ length: options.brokers }, (_, index) => options['broker-base-port'] + index)
    : [options.port];
  // Behind the front the brokers stay on loopback, plain HTTP: the front terminates TLS.
  const brokerScheme = front ? 'http' : scheme;
  return {
    publicUrl: `${scheme}://${options.lan ? (mediaPublicHost ?? 'localhost') : 'localhost'}:${options.port}`,
    brokerUrls: brokerPorts.map((port) => `${brokerScheme}://127.0.0.1:${port}`),
    brokerHost: front ? '127.0.0.1' : host,
    brokerPorts,
    front,
    cert,
    mediaPublicHost,
    mediaHost,
  };
}

/** coturn on loopback (and the LAN address with --lan) when it is installed; undefined otherwise. */
function startTurn(
  supervisor: Supervisor,
  port: number,
  layout: Layout,
  runDir: string,
  env: NodeJS.ProcessEnv,
): { child: Promise<SupervisedChild>; urls: string[] } | undefined {
  if (port === 0 || !existsSync(TURNSERVER)) return undefined;
  const secret = randomBytes(24).toString('base64url');
  env.USHER_TURN_SECRET = secret;
  const ip = layout.mediaPublicHost ?? '127.0.0.1';
  const args = [
    '-n',
    '--log-file=stdout',
    '--simple-log',
    '--listening-ip=127.0.0.1',
    ...(ip === '127.0.0.1' ? [] : [`--listening-ip=${ip}`]),
    `--relay-ip=${ip}`,
    `--listening-port=${port}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    '--realm=usher.local',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--min-port=49152',
    '--max-port=49252',
    '--fingerprint',
    `--pidfile=${join(runDir, 'turnserver.pid')}`,
    // Only this local stack: relaying to loopback peers is what makes a one-machine call work.
    '--allow-loopback-peers',
  ];
  return {
    child: supervisor.start({ name: 'coturn', command: TURNSERVER, args, env }),
    urls: [`turn:${ip}:${port}?transport=udp`, `turn:${ip}:${port}?transport=tcp`],
  };
}

async function startFront(
  supervisor: Supervisor,
  options: ReturnType<typeof parseOptions<typeof stackOptions>>,
  layout: Layout,
  runDir: string,
  env: NodeJS.ProcessEnv,
): Promise<SupervisedChild> {
  const file = join(runDir, 'haproxy.cfg');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    file,
    haproxyConfig({
      bind: `${layout.cert === undefined ? options.host : '0.0.0.0'}:${options.port}`,
      backends: layout.brokerPorts.map((port) => ({ host: '127.0.0.1', port })),
      ...(layout.cert === undefined ? {} : { tlsPemFile: layout.cert.pemFile }),
    }),
  );
  const child = await supervisor.start({ name: 'front', command: HAPROXY, args: ['-db', '-f', file], env });
  const probe = `${layout.cert === undefined ? 'http' : 'https'}://127.0.0.1:${options.port}/readyz`;
  const ca = layout.cert === undefined ? undefined : readFileSync(layout.cert.caFile);
  await waitForStatus(probe, 200, ca);
  return child;
}

function printBanner(
  options: ReturnType<typeof parseOptions<typeof stackOptions>>,
  layout: Layout,
  shown: Array<{ child: SupervisedChild; url: string }>,
): void {
  const open = `${layout.publicUrl}/?room=lobby`;
  const lines = [
    '',
    `Usher is running. Open ${open} in two browser tabs${options.lan ? ' or on two devices on this network' : ''}.`,
  ];
  if (options.lan && layout.cert !== undefined) {
    const others = layout.cert.names.filter(
      (name) => name !== 'localhost' && name !== layout.mediaPublicHost,
    );
    if (others.length > 0)
      lines.push(
        `  (this machine is also at ${others.map((name) => `https://${name}:${options.port}`).join(', ')})`,
      );
    lines.push(...trustInstructions(layout.cert.caFile));
  } else {
    lines.push('  Other devices: `npm start -- --lan` (browsers need HTTPS off localhost for the camera).');
  }
  lines.push(
    ...shown.map(({ child, url }) => `  ${child.spec.name.padEnd(9)} pid ${child.pid}  ${url}`),
    'Try a failover: `kill -9 <pid>` (crash) or `kill -STOP <pid>` (freeze) the media server shown in the',
    "app's status panel, and watch the call move; kill the broker and watch the call go on while the",
    'stack starts it again. Ctrl-C stops everything.',
    '',
  );
  console.log(lines.join('\n'));
}

/** GET a JSON body; `ca` trusts the local CA (this process started before it existed). */
function getJson(url: string, ca: Buffer | undefined): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      { ...(ca === undefined ? {} : { ca }), timeout: 2000 },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end();
  });
}

async function waitForServers(brokerUrl: string, count: number, ca: Buffer | undefined): Promise<void> {
  const deadline = Date.now() + STARTUP_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const { body } = await getJson(`${brokerUrl}/healthz`, ca);
      if (((body as { servers?: number }).servers ?? 0) >= count) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `fewer than ${count} media servers registered with ${brokerUrl} within ${STARTUP_WAIT_MS / 1000} s`,
  );
}

async function waitForStatus(url: string, status: number, ca: Buffer | undefined): Promise<void> {
  const deadline = Date.now() + STARTUP_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      if ((await getJson(url, ca)).status === status) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer ${status} within ${STARTUP_WAIT_MS / 1000} s`);
}
