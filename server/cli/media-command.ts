// `usher media`: one media/signaling server process that registers with its broker(s).
import { hostname } from 'node:os';
import { UsherConfigError } from '../common/config-error.ts';
import { parseSecret } from '../common/keys.ts';
import { createLogger } from '../common/logger.ts';
import { isLoopbackHost, tlsOption } from '../common/tls.ts';
import { formatHelp, type OptionTable, parseOptions } from './options.ts';
import { onShutdown } from './shutdown.ts';

export const mediaOptions = {
  host: { kind: 'string', env: 'USHER_MEDIA_HOST', default: '127.0.0.1', help: 'address to listen on' },
  port: { kind: 'int', env: 'USHER_MEDIA_PORT', default: 8101, min: 0, max: 65535, help: 'WebSocket port' },
  id: { kind: 'string', env: 'USHER_MEDIA_ID', help: 'server id (default: <hostname>-<port>)' },
  broker: {
    kind: 'list',
    env: 'USHER_BROKER_URL',
    help: 'http(s) URL of the broker to register with; several brokers sharing Redis: every one, comma-separated',
  },
  'public-url': {
    kind: 'string',
    env: 'USHER_PUBLIC_URL',
    help: 'ws(s) URL clients use to reach this server (default: from --public-host, else ws(s)://<host>:<port>/v1/media)',
  },
  'public-host': {
    kind: 'string',
    env: 'USHER_PUBLIC_HOST',
    help: 'host name or address clients reach this server at; the URL is ws(s)://<it>:<port>/v1/media (wss with --tls-cert)',
  },
  'tls-cert': {
    kind: 'string',
    env: 'USHER_TLS_CERT',
    help: 'serve WSS with this PEM certificate (chain); read again on SIGHUP',
  },
  'tls-key': { kind: 'string', env: 'USHER_TLS_KEY', help: 'the PEM private key of --tls-cert' },
  'max-rooms': {
    kind: 'int',
    env: 'USHER_MAX_ROOMS',
    default: 10_000,
    min: 1,
    help: 'rooms this server hosts at most',
  },
  'max-peers-per-room': {
    kind: 'int',
    env: 'USHER_MAX_PEERS_PER_ROOM',
    default: 50,
    min: 1,
    help: 'peers per room',
  },
  'max-peers': {
    kind: 'int',
    env: 'USHER_MAX_PEERS',
    default: 20_000,
    min: 1,
    help: 'peers on this server at most',
  },
  'seat-window-ms': {
    kind: 'int',
    env: 'USHER_SEAT_WINDOW_MS',
    default: 15_000,
    min: 1000,
    max: 60_000,
    help: 'a seat this server confirmed to a broker is released if nobody joins with it within this long',
  },
  'require-seat': {
    kind: 'bool',
    env: 'USHER_REQUIRE_SEAT',
    default: false,
    help: "admit only joins with this server's own seat confirmations (refuse broker-signed tickets); set once every broker runs with --seat-confirm on",
  },
  'drain-grace-ms': {
    kind: 'int',
    env: 'USHER_DRAIN_GRACE_MS',
    default: 10_000,
    min: 0,
    help: 'on SIGTERM, wait this long for clients to migrate',
  },
  'header-timeout-ms': {
    kind: 'int',
    env: 'USHER_HEADER_TIMEOUT_MS',
    default: 10_000,
    min: 100,
    help: 'an HTTP request (a WebSocket upgrade included) must send its headers within this long, else 408',
  },
  'log-level': { kind: 'string', env: 'USHER_LOG_LEVEL', default: 'info', help: 'pino log level' },
} as const satisfies OptionTable;

export const mediaHelp = formatHelp(
  'media',
  'a media/signaling server: verifies tickets, relays signaling in rooms, answers pings',
  mediaOptions,
  `
Environment:
  USHER_SECRET   shared secret with the broker (required, same value as the broker's)
Signals: SIGTERM drains (clients are told to migrate) then exits; SIGINT exits at once;
SIGHUP reads --tls-cert/--tls-key again (open connections keep theirs).
Listening on a non-loopback address needs --public-host or --public-url: a loopback URL
handed to a remote client cannot work, so it is refused at start.
`,
);

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function runMedia(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseOptions('media', mediaOptions, argv, env);
  const keys = parseSecret(env.USHER_SECRET);
  const id = options.id ?? `${hostname()}-${options.port}`.replace(/[^A-Za-z0-9._-]/g, '-');
  if (!ID_PATTERN.test(id)) {
    throw new UsherConfigError(`usher media: --id must match ${ID_PATTERN.source}, got "${id}"`);
  }
  const brokerUrls = (options.broker ?? []).map((url) => checkUrl('--broker', url, ['http:', 'https:']));
  const publicUrl =
    options['public-url'] === undefined
      ? undefined
      : checkUrl('--public-url', options['public-url'], ['ws:', 'wss:']);
  const tls = tlsOption('media', options['tls-cert'], options['tls-key']);
  const publicHost = options['public-host'];
  if (!isLoopbackHost(options.host)) {
    if (publicUrl === undefined && publicHost === undefined && isWildcardAddress(options.host))
      throw new UsherConfigError(
        `usher media: listening on ${options.host} but the URL handed to clients would be a loopback address: set --public-host <this machine's address or name> or --public-url`,
      );
  }
  // Imported here so `--help` and the other commands do not load this server's code.
  const { createMediaServer } = await import('../media/index.ts');
  const logger = createLogger({ name: `media:${id}`, level: options['log-level'] });
  if (brokerUrls.length === 0)
    logger.warn('no --broker given: this server will not register and gets no sessions');
  const server = await createMediaServer({
    id,
    host: options.host,
    port: options.port,
    publicUrl,
    ...(publicHost === undefined ? {} : { publicHost }),
    ...(tls === undefined ? {} : { tls }),
    brokerUrls,
    keys,
    logger,
    capacity: {
      maxRooms: options['max-rooms'],
      maxPeersPerRoom: options['max-peers-per-room'],
      maxPeers: options['max-peers'],
    },
    drainGraceMs: options['drain-grace-ms'],
    seatWindowMs: options['seat-window-ms'],
    requireSeat: options['require-seat'],
    headerTimeoutMs: options['header-timeout-ms'],
  });
  if (tls !== undefined) process.on('SIGHUP', () => server.reloadTls());
  onShutdown(logger, async (signal) => {
    if (signal === 'SIGTERM') await server.drain();
    await server.close();
  });
}

function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function checkUrl(flag: string, raw: string, schemes: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsherConfigError(`usher media: ${flag} is not a URL: "${raw}"`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new UsherConfigError(
      `usher media: ${flag} must start with ${schemes.map((s) => `${s}//`).join(' or ')}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsherConfigError(`usher media: ${flag} must not contain credentials`);
  }
  return raw;
}
