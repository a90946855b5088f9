// The broker under test, started as the CLI starts it (same createBroker, keys, logger, TURN)
// except that the per-address budget and the per-socket frame limit are set so high that they
// never refuse: one load generator stands for thousands of browsers on one address, and the
// limiters' bookkeeping still runs on every request, so its cost is measured. With
// --redis-url it shares room pins through Redis as `usher broker --redis-url` does.
import { createBroker } from '../../server/broker/index.ts';
import { RedisPinStore } from '../../server/broker/redis-pin-store.ts';
import { parseSecret } from '../../server/common/keys.ts';
import { createLogger } from '../../server/common/logger.ts';
import { flag } from './fixed-reply.ts';

const argv = process.argv.slice(2);
const int = (name: string, fallback: number): number => Number(flag(argv, name, String(fallback)));
const UNLIMITED = 1_000_000_000;

const logger = createLogger({ name: 'broker', level: process.env.USHER_LOG_LEVEL ?? 'info' });
const redisUrl = flag(argv, 'redis-url', '');
const pins = redisUrl === '' ? undefined : new RedisPinStore({ url: redisUrl, logger });
if (pins !== undefined && !(await pins.ready(10_000))) {
  logger.error('redis is not reachable');
  process.exit(1);
}
const broker = await createBroker({
  host: '127.0.0.1',
  port: int('port', 0),
  keys: parseSecret(process.env.USHER_SECRET),
  // The load generators send no join tokens; the token check's own cost is measured apart.
  auth: { mode: 'open' },
  logger,
  ...(pins === undefined ? {} : { pins }),
  // Behind the bench's HAProxy front, as `usher stack --brokers N` runs its brokers.
  trustProxy: argv.includes('--trust-proxy'),
  ping: { intervalMs: int('ping-interval-ms', 1000), timeoutMs: int('ping-timeout-ms', 2500) },
  heartbeat: { intervalMs: int('heartbeat-interval-ms', 1000), timeoutMs: int('heartbeat-timeout-ms', 3000) },
  ticketTtlSeconds: 30,
  // As the CLI: server-confirmed seats only with USHER_SEAT_CONFIRM=on (the comparison run).
  ...(process.env.USHER_SEAT_CONFIRM === 'on' ? { seatConfirm: { timeoutMs: 250 } } : {}),
  iceServers: {
    stunUrls: ['stun:127.0.0.1:3478'],
    turn: {
      urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'],
      secret: process.env.USHER_TURN_SECRET ?? 'bench-turn-secret',
      ttlSeconds: 3600,
    },
  },
  rateLimit: { perMinute: UNLIMITED, burst: UNLIMITED },
  sessionSocketLimit: { burst: UNLIMITED, perSecond: UNLIMITED, abuseDebt: UNLIMITED },
  connectionLimits: {
    sessionSocketsPerAddress: UNLIMITED,
    controlConnectBurst: UNLIMITED,
    // The steady scenario's fake fleet registers hundreds of media servers from one address.
    controlSocketsPerAddress: UNLIMITED,
  },
});
const stop = (): void => {
  broker.close().then(
    async () => {
      await pins?.close();
      process.exit(0);
    },
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
