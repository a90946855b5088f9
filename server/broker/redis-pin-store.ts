// Room → server pins in Redis, shared by several brokers: every conditional write is one
// Lua script (atomic in Redis), and pins expire unless an assignment or keep-alive renews them.
import { Redis } from 'ioredis';
import { UsherError } from '../../shared/errors.ts';
import { UsherConfigError } from '../common/config-error.ts';
import type { Logger } from '../common/logger.ts';
import type { Pin, PinStore, StoreFailureKind } from './pin-store.ts';

export interface RedisPinStoreOptions {
  /** redis://[user:password@]host[:port][/db], or rediss:// for TLS. */
  url: string;
  logger: Logger;
  /** Put before every key (default `usher:`); brokers that share pins use the same one. */
  keyPrefix?: string;
  /** A pin nobody renews for this long is forgotten (default 5 min; at least 10 s, above the ticket TTL). */
  ttlMs?: number;
  /** A command unanswered for this long fails (default 1000 ms): a frozen Redis must not hang requests. */
  commandTimeoutMs?: number;
}

export const DEFAULT_PIN_TTL_MS = 5 * 60_000;
const MIN_PIN_TTL_MS = 10_000;
/** Rooms per keepAlive script call, so one call never blocks Redis for long. */
const KEEP_ALIVE_BATCH = 500;
const SCAN_COUNT = 1000;
/** One "shared state unavailable" warning per this period, not one per request. */
const WARN_EVERY_MS = 5000;
/** After a command timed out (Redis frozen: its socket stays open), a PING this often tells when it answers again. */
const PROBE_EVERY_MS = 500;

// A pin is the string "<serverId>|<assignedAt>" (server ids never contain '|') under
// <prefix>pin:<room>; <prefix>server:<id> is the set of rooms pinned to that server, an index
// that may hold stale entries (pins that expired), so every reader re-checks the pin itself.
const HOLDER = `local function holder(value) if value then return string.match(value, '^[^|]*') end return '' end`;

const SCRIPTS = {
  /** KEYS: pin, next server's set. ARGV: room, expected ('' unpinned, '*' any), server, assignedAt, ttl, set prefix. */
  usherPinCas: {
    numberOfKeys: 2,
    lua: `${HOLDER}
local current = holder(redis.call('GET', KEYS[1]))
if ARGV[2] ~= '*' and current ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3] .. '|' .. ARGV[4], 'PX', ARGV[5])
if current ~= '' and current ~= ARGV[3] then redis.call('SREM', ARGV[6] .. current, ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1`,
  },
  /** KEYS: pin, server's set. ARGV: room, server, assignedAtMax. */
  usherPinDeleteIf: {
    numberOfKeys: 2,
    lua: `local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local server, at = string.match(value, '^([^|]*)|(.*)$')
if server ~= ARGV[2] or tonumber(at) > tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1`,
  },
  /** KEYS: server's set. ARGV: server, pin prefix. Returns the rooms whose pins were deleted. */
  usherPinDeleteByServer: {
    numberOfKeys: 1,
    lua: `${HOLDER}
local deleted = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. room
  if holder(redis.call('GET', key)) == ARGV[1] then
    redis.call('DEL', key)
    deleted[#deleted + 1] = room
  end
end
redis.call('DEL', KEYS[1])
return deleted`,
  },
  /** KEYS: server's set. ARGV: server, now, ttl, pin prefix, prune ('1': drop stale set entries first), rooms... */
  usherPinKeepAlive: {
    numberOfKeys: 1,
    lua: `${HOLDER}
local server, ttl, prefix = ARGV[1], ARGV[3], ARGV[4]
local pinned = 0
if ARGV[5] == '1' then
  for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if holder(redis.call('GET', prefix .. room)) ~= server then redis.call('SREM', KEYS[1], room) end
  end
end
for i = 6, #ARGV do
  local key = prefix .. ARGV[i]
  local current = holder(redis.call('GET', key))
  if current == '' then
    redis.call('SET', key, server .. '|' .. ARGV[2], 'PX', ttl)
    redis.call('SADD', KEYS[1], ARGV[i])
    pinned = pinned + 1
  elseif current == server then
    redis.call('PEXPIRE', key, ttl)
    redis.call('SADD', KEYS[1], ARGV[i])
  end
end
if redis.call('SCARD', KEYS[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return pinned`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...keysAndArgs: Array<string | number>) => Promise<unknown>;

/**
 * Pins for several brokers. While Redis is unreachable every call rejects at once (or after
 * commandTimeoutMs when Redis hangs) with UsherError INTERNAL — session requests answer that
 * code — and nothing is queued to run later; the client reconnects on its own.
 */
export class RedisPinStore implements PinStore {
  readonly keepAliveMs: number;
  readonly durable = true;
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly pinPrefix: string;
  private readonly serverPrefix: string;
  private readonly pinPattern: string;
  private readonly target: string;
  private available = false;
  private everReady = false;
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly failureListeners: Array<(op: string, kind: StoreFailureKind) => void> = [];
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private probe: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  /** Connects in the background; `ready()` tells when the first connection is up. */
  constructor(options: RedisPinStoreOptions) {
    const url = parseRedisUrl(options.url);
    this.logger = options.logger;
    this.ttlMs = options.ttlMs ?? DEFAULT_PIN_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < MIN_PIN_TTL_MS)
      throw new UsherConfigError(
        `redis pin TTL must be an integer ≥ ${MIN_PIN_TTL_MS} ms, got ${this.ttlMs}`,
      );
    // A third of the TTL: a pin survives two missed renewals.
    this.keepAliveMs = Math.floor(this.ttlMs / 3);
    const prefix = options.keyPrefix ?? 'usher:';
    this.pinPrefix = `${prefix}pin:`;
    this.serverPrefix = `${prefix}server:`;
    this.pinPattern = `${escapeGlob(this.pinPrefix)}*`;
    // Host and port only: the URL may carry a password.
    this.target = `${url.hostname}:${url.port === '' ? '6379' : url.port}`;
    this.redis = new Redis(options.url, {
      // Fail now rather than queue: a CAS replayed after the client gave up would move a room behind its back.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      connectTimeout: 5000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    for (const [name, script] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, script);
    this.redis.on('ready', () => {
      if (!this.available) this.logger.info({ redis: this.target }, 'shared room state (redis) connected');
      this.available = true;
      // After an outage Redis may have come back empty: the broker re-pins its live rooms now.
      if (this.everReady) for (const listener of this.reconnectListeners) listener();
      this.everReady = true;
    });
    this.redis.on('error', (error: Error) => this.unavailable(error));
    this.redis.on('close', () => {
      if (this.closing === undefined) this.unavailable(new Error('connection closed'));
    });
  }

  get reachable(): boolean {
    return this.available;
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  onFailure(listener: (op: string, kind: StoreFailureKind) => void): void {
    this.failureListeners.push(listener);
  }

  /** Resolves true once connected, false if that takes longer than timeoutMs. */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.on('ready', onReady);
    });
  }

  async get(room: string): Promise<Pin | undefined> {
    return this.run('get', async () => parsePin(await this.redis.get(this.pinPrefix + room)));
  }

  async set(room: string, pin: Pin): Promise<void> {
    await this.cas(room, '*', pin);
  }

  async compareAndSet(room: string, expected: string | undefined, next: Pin): Promise<boolean> {
    return this.cas(room, expected ?? '', next);
  }

  async deleteIf(room: string, serverId: string, assignedAtMax: number): Promise<boolean> {
    const result = await this.run('deleteIf', () =>
      this.script('usherPinDeleteIf')(
        this.pinPrefix + room,
        this.serverPrefix + serverId,
        room,
        serverId,
        assignedAtMax,
      ),
    );
    return result === 1;
  }

  async deleteByServer(serverId: string): Promise<string[]> {
    const result = await this.run('deleteByServer', () =>
      this.script('usherPinDeleteByServer')(this.serverPrefix + serverId, serverId, this.pinPrefix),
    );
    return result as string[];
  }

  async keepAlive(serverId: string, rooms: readonly string[], now: number): Promise<number> {
    const setKey = this.serverPrefix + serverId;
    let pinned = 0;
    // The first call also prunes the set, so it stays as small as the server's real rooms.
    for (let start = 0; start === 0 || start < rooms.length; start += KEEP_ALIVE_BATCH) {
      const batch = rooms.slice(start, start + KEEP_ALIVE_BATCH);
      const result = await this.run('keepAlive', () =>
        this.script('usherPinKeepAlive')(
          setKey,
          serverId,
          now,
          this.ttlMs,
          this.pinPrefix,
          start === 0 ? '1' : '0',
          ...batch,
        ),
      );
      pinned += Number(result);
    }
    return pinned;
  }

  /** Counts with SCAN (O(pins)): for /healthz, metrics and admin, not the request path. */
  async size(): Promise<number> {
    let count = 0;
    await this.scan((keys) => {
      count += keys.length;
    });
    return count;
  }

  async entries(): Promise<Array<[string, Pin]>> {
    const pins = new Map<string, Pin>();
    await this.scan(async (keys) => {
      if (keys.length === 0) return;
      const values = await this.redis.mget(keys);
      keys.forEach((key, index) => {
        const pin = parsePin(values[index] ?? null);
        if (pin !== undefined) pins.set(key.slice(this.pinPrefix.length), pin);
      });
    });
    return [...pins];
  }

  /** Closes the connection (idempotent); later calls fail with INTERNAL. */
  close(): Promise<void> {
    this.stopProbe();
    this.closing ??= (async () => {
      if (this.redis.status === 'ready') {
        try {
          await this.redis.quit();
          return;
        } catch {
          // fall through to a hard disconnect
        }
      }
      this.redis.disconnect();
    })();
    return this.closing;
  }

  private async cas(room: string, expected: string, next: Pin): Promise<boolean> {
    const result = await this.run('compareAndSet', () =>
      this.script('usherPinCas')(
        this.pinPrefix + room,
        this.serverPrefix + next.serverId,
        room,
        expected,
        next.serverId,
        next.assignedAt,
        this.ttlMs,
        this.serverPrefix,
      ),
    );
    return result === 1;
  }

  private async scan(each: (keys: string[]) => void | Promise<void>): Promise<void> {
    await this.run('scan', async () => {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.pinPattern, 'COUNT', SCAN_COUNT);
        await each(keys);
        cursor = next;
      } while (cursor !== '0');
    });
  }

  private script(name: ScriptName): ScriptCall {
    const call = (this.redis as unknown as Record<ScriptName, ScriptCall>)[name];
    return call.bind(this.redis);
  }

  /** Every Redis failure becomes INTERNAL with its cause; the broker answers the request with that code. */
  private async run<T>(op: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (this.closing === undefined) {
        this.warn(op, error);
        const kind = this.failureKind(error);
        for (const listener of this.failureListeners) listener(op, kind);
        if (kind === 'timeout') this.frozen(error as Error);
      }
      throw new UsherError('INTERNAL', 'room state is unavailable; retry shortly', { cause: error });
    }
  }

  /** ioredis says "Command timed out" for commandTimeout; a redis reply error is a ReplyError. */
  private failureKind(error: unknown): StoreFailureKind {
    if (error instanceof Error && error.message === 'Command timed out') return 'timeout';
    if (error instanceof Error && error.name === 'ReplyError') return 'error';
    return 'unavailable';
  }

  /**
   * Redis stopped answering on an open connection (frozen, or overloaded): not reachable (so
   * /readyz says so) until a PING is answered again. No error or close event comes for this.
   */
  private frozen(error: Error): void {
    this.unavailable(error);
    if (this.probe !== undefined) return;
    this.probe = setInterval(() => {
      if (this.closing !== undefined) {
        this.stopProbe();
        return;
      }
      this.redis.ping().then(
        () => {
          if (this.probe === undefined) return;
          this.stopProbe();
          if (!this.available)
            this.logger.info({ redis: this.target }, 'shared room state (redis) answering again');
          this.available = true;
        },
        () => {},
      );
    }, PROBE_EVERY_MS);
    this.probe.unref();
  }

  private stopProbe(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }

  private unavailable(error: Error): void {
    if (this.available) {
      this.logger.warn(
        { redis: this.target, err: error.message },
        'shared room state (redis) unavailable: session requests fail with INTERNAL until it is back',
      );
    } else {
      this.logger.debug({ redis: this.target, err: error.message }, 'redis connection failed');
    }
    this.available = false;
  }

  private warn(op: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    this.logger.warn(
      { redis: this.target, op, err: error instanceof Error ? error.message : String(error) },
      'redis command failed',
    );
  }
}

function parseRedisUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsherConfigError('redis URL is not a URL (expected redis://host:port)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new UsherConfigError('redis URL must start with redis:// or rediss://');
  return url;
}

function parsePin(value: string | null): Pin | undefined {
  if (value === null) return undefined;
  const bar = value.indexOf('|');
  const assignedAt = Number(value.slice(bar + 1));
  if (bar <= 0 || !Number.isFinite(assignedAt)) return undefined;
  return { serverId: value.slice(0, bar), assignedAt };
}

/** SCAN MATCH treats these as pattern characters; a prefix must match itself only. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
