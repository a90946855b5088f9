// The per-address budget of session requests: one token bucket per client address, shared
// by `POST /v1/sessions` (http-guards.ts's hook) and `session.request` over the WebSocket,
// so a client cannot double its budget by switching transport.
// IPv6 prefixes are normalised by @fastify/rate-limit's helper (over the ip-address library).
import { normalizeIP } from '@fastify/rate-limit';

export interface IpBudgetOptions {
  /** Sustained requests per minute per address. */
  perMinute: number;
  /** Requests an address may make at once after a quiet spell (bucket size). */
  burst: number;
  /** Addresses tracked at once; past this the least recently seen are forgotten (full budget again). */
  maxAddresses?: number;
  now?: () => number;
}

/** 600/min (10/s) sustained, 600 at once: see docs/SECURITY.md for why. */
export const DEFAULT_IP_BUDGET = { perMinute: 600, burst: 600 } as const;

export type BudgetVerdict =
  | { ok: true; remaining: number; fullInMs: number }
  | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  last: number;
}

/** Addresses whose budget key is remembered (see IpBudget.keyOf). */
const KEY_MEMO_SIZE = 10_000;

/** IPv6 clients usually hold a whole /64: they are one client, not 2^64. */
const IPV6_PREFIX = 64;

export class IpBudget {
  readonly burst: number;
  private readonly perMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** In least-recently-seen order (re-inserted on every use), so eviction takes the first key. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: IpBudgetOptions) {
    if (!(options.perMinute > 0) || !(options.burst >= 1))
      throw new RangeError('an IP budget needs perMinute > 0 and burst ≥ 1');
    this.burst = options.burst;
    this.perMs = options.perMinute / 60_000;
    this.maxAddresses = options.maxAddresses ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** The key an address is counted under (IPv4-mapped IPv6 as IPv4, IPv6 by its /64). */
  static key(address: string): string {
    try {
      return normalizeIP(address, IPV6_PREFIX);
    } catch {
      return address;
    }
  }

  /**
   * Recent addresses → their keys: normalising an IPv6 address is costly next to the rest of
   * a request, and a client sends every request from the same one. Bounded; cleared when full.
   */
  private readonly keyMemo = new Map<string, string>();

  private keyOf(address: string): string {
    if (address.indexOf(':') === -1) return address; // plain IPv4 is its own key
    let key = this.keyMemo.get(address);
    if (key === undefined) {
      if (this.keyMemo.size >= KEY_MEMO_SIZE) this.keyMemo.clear();
      key = IpBudget.key(address);
      this.keyMemo.set(address, key);
    }
    return key;
  }

  /** Charges one request to `address`. A refused request costs nothing. */
  take(address: string): BudgetVerdict {
    const key = this.keyOf(address);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, last: now };
      if (this.buckets.size >= this.maxAddresses) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      this.buckets.delete(key);
      const elapsed = now - bucket.last;
      if (elapsed > 0) {
        bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.perMs);
        bucket.last = now;
      }
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.perMs) };
    bucket.tokens -= 1;
    return {
      ok: true,
      remaining: Math.floor(bucket.tokens),
      fullInMs: Math.ceil((this.burst - bucket.tokens) / this.perMs),
    };
  }

  get size(): number {
    return this.buckets.size;
  }
}
