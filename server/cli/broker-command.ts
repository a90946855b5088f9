// `usher broker`: one broker process, configured from flags and env.
import { existsSync } from 'node:fs';
import type { BrokerAuth } from '../broker/sessions.ts';
import { UsherConfigError } from '../common/config-error.ts';
import { ApiKeys } from '../common/join-token.ts';
import { parseSecret } from '../common/keys.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { tlsOption } from '../common/tls.ts';
import { formatHelp, type OptionTable, parseOptions } from './options.ts';
import { defaultStaticDir } from './paths.ts';
import { onShutdown } from './shutdown.ts';

const MIN_TOKEN_LENGTH = 16;
/** How long startup waits for Redis before going on without it. */
const REDIS_CONNECT_WAIT_MS = 5000;

export const brokerOptions = {
  host: {
    kind: 'string',
    env: 'USHER_HOST',
    default: '127.0.0.1',
    help: 'address to listen on (0.0.0.0 for all)',
  },
  port: { kind: 'int', env: 'USHER_PORT', default: 8080, min: 0, max: 65535, help: 'HTTP/WebSocket port' },
  'static-dir': {
    kind: 'string',
    env: 'USHER_STATIC_DIR',
    help: 'built web app to serve at / (default: dist/web)',
  },
  'ping-interval-ms': {
    kind: 'int',
    env: 'USHER_PING_INTERVAL_MS',
    default: 1000,
    min: 50,
    help: 'client ping period',
  },
  'ping-timeout-ms': {
    kind: 'int',
    env: 'USHER_PING_TIMEOUT_MS',
    default: 2500,
    min: 100,
    help: 'no pong for this long ⇒ client declares the server gone',
  },
  'heartbeat-interval-ms': {
    kind: 'int',
    env: 'USHER_HEARTBEAT_INTERVAL_MS',
    default: 1000,
    min: 50,
    help: 'media servers report load this often',
  },
  'heartbeat-timeout-ms': {
    kind: 'int',
    env: 'USHER_HEARTBEAT_TIMEOUT_MS',
    default: 3000,
    min: 100,
    help: 'no report for this long ⇒ broker drops the server',
  },
  'warmup-ms': {
    kind: 'int',
    env: 'USHER_WARMUP_MS',
    min: 0,
    help: 'after start, an event-loop stall or a Redis reconnect: how long media servers get to re-register before their rooms may move (default: --heartbeat-timeout-ms; 0: none)',
  },
  'ticket-ttl-s': {
    kind: 'int',
    env: 'USHER_TICKET_TTL_S',
    default: 30,
    min: 5,
    max: 60,
    help: 'ticket lifetime',
  },
  'seat-confirm': {
    kind: 'string',
    env: 'USHER_SEAT_CONFIRM',
    default: 'off',
    help: "on: every assignment carries the media server's own signed seat confirmation (one control round trip more per request); off: the broker answers from its registry alone",
  },
  'seat-timeout-ms': {
    kind: 'int',
    env: 'USHER_SEAT_TIMEOUT_MS',
    default: 250,
    min: 10,
    max: 5000,
    help: 'a media server that has not confirmed a seat within this long is passed over (and counted against its health)',
  },
  'seat-window-ms': {
    kind: 'int',
    env: 'USHER_SEAT_WINDOW_MS',
    default: 15000,
    min: 1000,
    max: 60000,
    help: 'a confirmed seat is held this long for the client to join',
  },
  'resume-ttl-s': {
    kind: 'int',
    env: 'USHER_RESUME_TTL_S',
    default: 86400,
    min: 60,
    help: "how long a session's last ticket proves it on failover (later: same room, new peer id)",
  },
  'stun-urls': { kind: 'list', env: 'USHER_STUN_URLS', help: 'STUN URLs handed to clients' },
  'turn-urls': { kind: 'list', env: 'USHER_TURN_URLS', help: 'TURN URLs (needs USHER_TURN_SECRET)' },
  'turn-ttl-s': {
    kind: 'int',
    env: 'USHER_TURN_TTL_S',
    default: 3600,
    min: 60,
    help: 'TURN credential lifetime',
  },
  'allowed-origins': {
    kind: 'list',
    env: 'USHER_ALLOWED_ORIGINS',
    help: "browser origins allowed besides the broker's own (default: none; * for any)",
  },
  'rate-limit-per-min': {
    kind: 'int',
    env: 'USHER_RATE_LIMIT_PER_MIN',
    default: 600,
    min: 0,
    help: 'session requests per client address and minute, HTTP and WebSocket together (0: no limit)',
  },
  'rate-limit-burst': {
    kind: 'int',
    env: 'USHER_RATE_LIMIT_BURST',
    default: 600,
    min: 1,
    help: 'session requests one address may make at once (a failover storm behind one NAT)',
  },
  'max-session-sockets-per-address': {
    kind: 'int',
    env: 'USHER_MAX_SESSION_SOCKETS_PER_ADDRESS',
    default: 1000,
    min: 1,
    help: 'open /v1/session WebSockets one client address (IPv6: one /64) may hold; more get 429 TOO_MANY_CONNECTIONS',
  },
  'max-session-sockets': {
    kind: 'int',
    env: 'USHER_MAX_SESSION_SOCKETS',
    min: 1,
    help: 'open /v1/session WebSockets in all (default: the open-file limit less 1024 kept for media servers and /healthz)',
  },
  'session-idle-timeout-s': {
    kind: 'int',
    env: 'USHER_SESSION_IDLE_TIMEOUT_S',
    default: 300,
    min: 0,
    help: 'a /v1/session WebSocket that makes no request for this long is closed with 4408 IDLE_TIMEOUT (0: never)',
  },
  'max-control-sockets-per-address': {
    kind: 'int',
    env: 'USHER_MAX_CONTROL_SOCKETS_PER_ADDRESS',
    default: 64,
    min: 1,
    help: 'open /v1/control WebSockets (media servers) one address may hold',
  },
  'control-connects-per-min': {
    kind: 'int',
    env: 'USHER_CONTROL_CONNECTS_PER_MIN',
    default: 120,
    min: 0,
    help: 'new /v1/control connections per address and minute, 60 at once (0: no limit)',
  },
  'headers-timeout-ms': {
    kind: 'int',
    env: 'USHER_HEADERS_TIMEOUT_MS',
    default: 10000,
    min: 100,
    help: 'time a client has to send its HTTP request headers (then 408 IDLE_TIMEOUT)',
  },
  'request-timeout-ms': {
    kind: 'int',
    env: 'USHER_REQUEST_TIMEOUT_MS',
    default: 30000,
    min: 100,
    help: 'time a client has to send its whole HTTP request (then 408 IDLE_TIMEOUT)',
  },
  'keep-alive-timeout-ms': {
    kind: 'int',
    env: 'USHER_KEEP_ALIVE_TIMEOUT_MS',
    default: 5000,
    min: 100,
    help: 'an idle keep-alive HTTP connection is closed after this (behind a load balancer: above its idle timeout)',
  },
  'trust-proxy': {
    kind: 'bool',
    env: 'USHER_TRUST_PROXY',
    default: false,
    help: 'behind one reverse proxy: client address (and rate-limit key) from its X-Forwarded-For',
  },
  'redis-url': {
    kind: 'string',
    env: 'USHER_REDIS_URL',
    help: 'several brokers: share room pins through this Redis (redis://host:port[/db]; a password only in the env)',
  },
  'tls-cert': {
    kind: 'string',
    env: 'USHER_TLS_CERT',
    help: 'serve HTTPS/WSS with this PEM certificate (chain); read again on SIGHUP',
  },
  'tls-key': { kind: 'string', env: 'USHER_TLS_KEY', help: 'the PEM private key of --tls-cert' },
  'allow-loopback-media': {
    kind: 'bool',
    env: 'USHER_ALLOW_LOOPBACK_MEDIA',
    default: false,
    help: 'listening publicly, still accept media servers that announce a loopback URL (tests only)',
  },
  auth: {
    kind: 'string',
    env: 'USHER_AUTH',
    default: 'token',
    help: 'room admission: token (a join token signed with a key in USHER_API_KEYS) or open (anyone may join any room)',
  },
  'member-move-interval-ms': {
    kind: 'int',
    env: 'USHER_MEMBER_MOVE_INTERVAL_MS',
    default: 5000,
    min: 0,
    help: "token mode: a room moves off a healthy server on members' exclude at most once per this long",
  },
  'dev-token-endpoint': {
    kind: 'bool',
    default: false,
    help: 'serve POST /dev/token that signs a join token for ANYONE (the local stack only; never in front of users)',
  },
  'webhook-urls': {
    kind: 'list',
    env: 'USHER_WEBHOOK_URLS',
    help: 'POST signed events (room.started, participant.joined, …) to these URLs; needs USHER_API_KEYS',
  },
  'log-level': { kind: 'string', env: 'USHER_LOG_LEVEL', default: 'info', help: 'pino log level' },
} as const satisfies OptionTable;

export const brokerHelp = formatHelp(
  'broker',
  'the session broker: assigns media servers to rooms and signs tickets',
  brokerOptions,
  `
Environment (secrets are never flags, so they do not show in ps):
  USHER_SECRET        shared secret with the media servers (required, ≥ 16 chars; "kid:secret,..." to rotate)
  USHER_API_KEYS      API keys the application's backend signs join tokens with, "keyId:secret,keyId2:secret2"
                      (required with --auth token, the default; secrets ≥ 32 chars; see docs/INTEGRATION.md)
  USHER_TURN_SECRET   coturn --static-auth-secret, when --turn-urls is set
  USHER_ADMIN_TOKEN   bearer token for /admin/v1/* (admin API disabled when unset; ≥ 16 chars)
  USHER_METRICS_TOKEN bearer token for /metrics (open when unset: keep it off the public network)
  USHER_REDIS_URL     as --redis-url; the place for a URL with a password (redis://:password@host:6379)
  USHER_API_KEYS      the application's API keys "keyId:secret,…": sign webhooks, authenticate /v1/rooms
Several brokers: give each the same USHER_SECRET and Redis, and list every broker in each
media server's --broker. While Redis is down, session requests fail with INTERNAL.
Signals: SIGTERM/SIGINT stop it; SIGHUP reads --tls-cert/--tls-key again (open connections keep theirs).
`,
);

export async function runBroker(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseOptions('broker', brokerOptions, argv, env);
  const keys = parseSecret(env.USHER_SECRET);
  const turnUrls = options['turn-urls'] ?? [];
  if (turnUrls.length > 0 && (env.USHER_TURN_SECRET ?? '') === '') {
    throw new UsherConfigError('usher broker: --turn-urls is set but USHER_TURN_SECRET is not');
  }
  if (options['ping-timeout-ms'] <= options['ping-interval-ms']) {
    throw new UsherConfigError('usher broker: --ping-timeout-ms must be greater than --ping-interval-ms');
  }
  if (options['heartbeat-timeout-ms'] <= options['heartbeat-interval-ms']) {
    throw new UsherConfigError(
      'usher broker: --heartbeat-timeout-ms must be greater than --heartbeat-interval-ms',
    );
  }
  if (options['request-timeout-ms'] < options['headers-timeout-ms']) {
    throw new UsherConfigError('usher broker: --request-timeout-ms must be at least --headers-timeout-ms');
  }
  const adminToken = bearerToken(env, 'USHER_ADMIN_TOKEN');
  const metricsToken = bearerToken(env, 'USHER_METRICS_TOKEN');
  const redisUrl = checkRedisUrl(options['redis-url'], argv);
  const authMode = options.auth;
  if (authMode !== 'token' && authMode !== 'open')
    throw new UsherConfigError(`usher broker: --auth must be token or open, not "${authMode}"`);
  // One set of keys: join tokens (token mode), webhook signatures and the server API.
  const apiKeys =
    (env.USHER_API_KEYS ?? '').trim() === '' && authMode === 'open'
      ? undefined
      : ApiKeys.parse(env.USHER_API_KEYS, 'USHER_API_KEYS');
  const auth: BrokerAuth =
    authMode === 'open' || apiKeys === undefined ? { mode: 'open' } : { mode: 'token', apiKeys };
  if (options['dev-token-endpoint'] && auth.mode !== 'token')
    throw new UsherConfigError('usher broker: --dev-token-endpoint needs --auth token');
  const webhookUrls = options['webhook-urls'] ?? [];
  if (webhookUrls.length > 0 && apiKeys === undefined)
    throw new UsherConfigError(
      'usher broker: --webhook-urls needs USHER_API_KEYS (the webhooks are signed with it)',
    );
  const seatConfirmFlag = options['seat-confirm'];
  if (seatConfirmFlag !== 'on' && seatConfirmFlag !== 'off')
    throw new UsherConfigError(`usher broker: --seat-confirm must be on or off, got "${seatConfirmFlag}"`);
  const seatConfirm = seatConfirmFlag === 'on';
  const staticDir = options['static-dir'] ?? defaultStaticDir();
  const tls = tlsOption('broker', options['tls-cert'], options['tls-key']);
  // Imported here so `--help` and the other commands do not load this server's code.
  const { createBroker } = await import('../broker/index.ts');
  const logger = createLogger({ name: 'broker', level: options['log-level'] });
  if (!existsSync(staticDir))
    logger.warn({ staticDir }, 'web app not built: run `npm run build:web` to serve it');
  if (metricsToken === undefined && !isLoopback(options.host))
    logger.warn('/metrics is open to anyone who can reach this port: set USHER_METRICS_TOKEN or firewall it');
  const pins = redisUrl === undefined ? undefined : await connectRedis(redisUrl, logger);
  const webhookOnce =
    redisUrl === undefined || webhookUrls.length === 0 ? undefined : await connectWebhookOnce(redisUrl);
  const broker = await createBroker({
    host: options.host,
    port: options.port,
    auth,
    memberMoveIntervalMs: options['member-move-interval-ms'],
    devTokenEndpoint: options['dev-token-endpoint'],
    keys,
    logger,
    staticDir,
    ping: { intervalMs: options['ping-interval-ms'], timeoutMs: options['ping-timeout-ms'] },
    heartbeat: { intervalMs: options['heartbeat-interval-ms'], timeoutMs: options['heartbeat-timeout-ms'] },
    ...(options['warmup-ms'] === undefined ? {} : { warmUpMs: options['warmup-ms'] }),
    ticketTtlSeconds: options['ticket-ttl-s'],
    ...(seatConfirm
      ? { seatConfirm: { timeoutMs: options['seat-timeout-ms'], windowMs: options['seat-window-ms'] } }
      : {}),
    resumeTtlSeconds: options['resume-ttl-s'],
    iceServers: {
      stunUrls: options['stun-urls'] ?? [],
      ...(turnUrls.length > 0
        ? { turn: { urls: turnUrls, secret: env.USHER_TURN_SECRET ?? '', ttlSeconds: options['turn-ttl-s'] } }
        : {}),
    },
    adminToken,
    metricsToken,
    trustProxy: options['trust-proxy'],
    allowedOrigins: options['allowed-origins'],
    rateLimit:
      options['rate-limit-per-min'] === 0
        ? false
        : { perMinute: options['rate-limit-per-min'], burst: options['rate-limit-burst'] },
    connectionLimits: {
      sessionSocketsPerAddress: options['max-session-sockets-per-address'],
      maxSessionSockets: options['max-session-sockets'],
      sessionIdleTimeoutMs: options['session-idle-timeout-s'] * 1000,
      controlSocketsPerAddress: options['max-control-sockets-per-address'],
      controlConnectsPerMinute: options['control-connects-per-min'],
      headersTimeoutMs: options['headers-timeout-ms'],
      requestTimeoutMs: options['request-timeout-ms'],
      keepAliveTimeoutMs: options['keep-alive-timeout-ms'],
    },
    ...(pins === undefined ? {} : { pins }),
    ...(tls === undefined ? {} : { tls }),
    allowLoopbackMedia: options['allow-loopback-media'],
    ...(apiKeys === undefined ? {} : { apiKeys }),
    webhookUrls,
    ...(webhookOnce === undefined ? {} : { webhookOnce }),
  }).catch(async (error: unknown) => {
    await pins?.close();
    await webhookOnce?.close();
    throw error;
  });
  if (tls !== undefined) process.on('SIGHUP', () => broker.reloadTls());
  onShutdown(logger, async () => {
    await broker.close();
    await pins?.close();
    await webhookOnce?.close();
  });
}

/** The shared pin store; the broker starts even if Redis is not up yet (requests fail until it is). */
async function connectRedis(url: string, logger: Logger) {
  const { RedisPinStore } = await import('../broker/redis-pin-store.ts');
  const pins = new RedisPinStore({ url, logger });
  if (!(await pins.ready(REDIS_CONNECT_WAIT_MS)))
    logger.warn('redis is not reachable yet: session requests fail with INTERNAL until it is');
  return pins;
}

/** Webhook claims in the same Redis as the pins, so the brokers send each event once. */
async function connectWebhookOnce(
  url: string,
): Promise<import('../broker/webhook-once.ts').WebhookOnceStore> {
  const { RedisWebhookOnceStore } = await import('../broker/redis-webhook-once.ts');
  const store = new RedisWebhookOnceStore({ url });
  await store.ready(REDIS_CONNECT_WAIT_MS);
  return store;
}

/** A redis:// or rediss:// URL; a password is refused on the command line, where ps shows it. */
function checkRedisUrl(raw: string | undefined, argv: string[]): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: it may hold a password.
    throw new UsherConfigError('usher broker: --redis-url is not a URL (expected redis://host:port)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new UsherConfigError('usher broker: --redis-url must start with redis:// or rediss://');
  const onCommandLine = argv.some((arg) => arg === '--redis-url' || arg.startsWith('--redis-url='));
  if (onCommandLine && url.password !== '')
    throw new UsherConfigError(
      'usher broker: --redis-url must not contain a password (ps shows flags): set USHER_REDIS_URL instead',
    );
  return raw;
}

/** A bearer token from the environment: unset or empty ⇒ undefined; too short to resist guessing ⇒ error. */
function bearerToken(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (value.length < MIN_TOKEN_LENGTH)
    throw new UsherConfigError(`usher broker: ${name} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  return value;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
