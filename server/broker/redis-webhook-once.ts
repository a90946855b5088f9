// Webhook claims shared by several brokers: one `SET key 1 PX ttl NX` per event and target,
// atomic in Redis, so exactly one broker wins each. Failures reject at once (no offline
// queue): the dispatcher then delivers anyway, preferring a rare duplicate to a lost event.
import { Redis } from 'ioredis';
import { UsherError } from '../../shared/errors.ts';
import { UsherConfigError } from '../common/config-error.ts';
import type { WebhookOnceStore } from './webhook-once.ts';

export interface RedisWebhookOnceOptions {
  /** redis://[user:password@]host[:port][/db], or rediss:// for TLS. */
  url: string;
  /** Put before every key (default `usher:webhook:`); brokers that share claims use the same one. */
  keyPrefix?: string;
  /** A command unanswered for this long fails (default 1000 ms). */
  commandTimeoutMs?: number;
}

export class RedisWebhookOnceStore implements WebhookOnceStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private closing: Promise<void> | undefined;

  constructor(options: RedisWebhookOnceOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new UsherConfigError('redis URL is not a URL (expected redis://host:port)');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
      throw new UsherConfigError('redis URL must start with redis:// or rediss://');
    this.prefix = options.keyPrefix ?? 'usher:webhook:';
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      connectTimeout: 5000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    // Connection errors surface as rejected claims; the event itself would only repeat them.
    this.redis.on('error', () => {});
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

  async claim(key: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.redis.set(this.prefix + key, '1', 'PX', ttlMs, 'NX')) === 'OK';
    } catch (cause) {
      throw new UsherError('INTERNAL', 'webhook claim store is unavailable', { cause });
    }
  }

  close(): Promise<void> {
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
}
