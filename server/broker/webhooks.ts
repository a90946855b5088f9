// Webhooks: the broker tells the application's backend what happened (rooms started and
// finished, participants joined and left, rooms moved, servers lost) with signed POSTs,
// delivered from a queue outside the request path.
//
// Signature (like LiveKit's): `Authorization: <JWS>` where the JWS is HS256 with an API key
// (header `kid` = key id, `typ` `usher-webhook+jwt`) over `{sha256: base64(sha256(body)), iat,
// exp}`; `Content-Type: application/webhook+json`. The receiver checks the MAC, the time window
// and the body hash, then refuses an event id it has already seen (server/sdk's verifyWebhook).
//
// Delivery: `enqueue` is synchronous and O(1) (the JSON body is written once, nothing else).
// Events of one room go to one target in order, one at a time; rooms are independent and up
// to `maxInFlight` are delivered at once. A failed attempt (network error, timeout, non-2xx)
// is retried with jittered exponential backoff until `retryForMs` after its first attempt,
// then dropped, and the room's next event goes. At most `maxQueued` events wait: beyond that
// the oldest waiting one is dropped. Every outcome is counted in
// `usher_broker_webhooks_total{result}`: delivered, retried (one per failed attempt that
// will be tried again), dropped (gave up), overflow (pushed out of a full queue), duplicate
// (another broker sends it).
//
// Once across brokers. Every broker keeps its own control channel to every media server, so
// every broker sees the same fleet facts (a room opened or closed on a server, a server
// lost); "only the broker that acted emits" would cover only the acts one broker decides
// (a move won by compare-and-set) and would miss, or repeat, the facts all of them observe.
// So an event that several brokers may see is enqueued with a `onceKey` naming the fact
// (`room.moved:lobby:m1:m2:<pin time>`): its id is a hash of that key, the same on every
// broker, and before the first attempt the broker claims `<id>:<target>` in a shared store
// (Redis `SET NX PX`, TTL `onceTtlMs`, longer than the retry window and the receiver's replay
// window). The claim's winner delivers; the others count a `duplicate` and skip it. If the
// store cannot be reached the broker delivers anyway: a duplicate then carries the same id,
// which the receiver's replay check drops. Limits: a broker that wins a claim and dies before
// delivering loses that event (the claim is not handed over); order per room holds for the
// events one broker delivers, and when two brokers win claims for one room's events the
// receiver orders them by `createdAt`.
import { createHash } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import {
  WEBHOOK_CONTENT_TYPE,
  WEBHOOK_TOKEN_TYPE,
  type WebhookEvent,
} from '../../shared/protocol/webhooks.ts';
import { signHs256 } from '../common/compact-jws.ts';
import { UsherConfigError } from '../common/config-error.ts';
import type { ApiKey } from '../common/join-token.ts';
import type { Logger } from '../common/logger.ts';
import { randomId } from '../common/tickets.ts';
import type { WebhookOnceStore } from './webhook-once.ts';

/** How long a webhook signature is good for (the receiver's window is its own, default 5 min). */
export const WEBHOOK_SIGNATURE_TTL_S = 300;

/** Sign `body` for delivery: the value of the Authorization header. */
export function signWebhook(key: ApiKey, body: string, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  const sha256 = createHash('sha256').update(body).digest('base64');
  return signHs256(
    Buffer.from(key.secret, 'utf8'),
    key.id,
    WEBHOOK_TOKEN_TYPE,
    `{"sha256":"${sha256}","iat":${iat},"exp":${iat + WEBHOOK_SIGNATURE_TTL_S}}`,
  );
}

/** An event as the broker hands it over: the dispatcher adds `id` and `createdAt`. */
export type WebhookEventInput = WebhookEvent extends infer E
  ? E extends WebhookEvent
    ? Omit<E, 'id' | 'createdAt'>
    : never
  : never;

export type WebhookResult = 'delivered' | 'retried' | 'dropped' | 'overflow' | 'duplicate';

/** The counter the dispatcher reports to, on the broker's registry. */
export function createWebhookCounter(registry: Registry): Counter<'result'> {
  return new Counter({
    name: 'usher_broker_webhooks_total',
    help: 'Webhook deliveries by result (delivered, retried, dropped, overflow, duplicate)',
    labelNames: ['result'],
    registers: [registry],
  });
}

export interface WebhookDispatcherOptions {
  /** Where every event is POSTed (http:// or https://). */
  urls: readonly string[];
  /** The API key that signs deliveries. */
  key: ApiKey;
  once: WebhookOnceStore;
  counter: Counter<'result'>;
  logger: Logger;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  random?: () => number;
  /** Events waiting at most (default 10 000); the oldest waiting one goes first. */
  maxQueued?: number;
  /** Retry a failing event until this long after its first attempt (default 2 min). */
  retryForMs?: number;
  /** First retry after about this long, doubling per attempt (default 500 ms). */
  initialBackoffMs?: number;
  /** Longest wait between attempts (default 30 s). */
  maxBackoffMs?: number;
  /** An attempt unanswered for this long failed (default 5 s). */
  requestTimeoutMs?: number;
  /** Rooms delivered to at once (default 8). */
  maxInFlight?: number;
  /** How long a once-claim holds (default 10 min). */
  onceTtlMs?: number;
}

interface Entry {
  readonly event: WebhookEvent;
  readonly body: string;
  readonly target: number;
  readonly lane: Lane;
  state: 'waiting' | 'current' | 'finished';
  firstAttemptAt: number | undefined;
  attempts: number;
  /** The waiting list (oldest first), for dropping the oldest in O(1). */
  older: Entry | undefined;
  newer: Entry | undefined;
}

interface Lane {
  readonly key: string;
  readonly queue: Fifo<Entry>;
  current: Entry | undefined;
  /** In the ready queue, in flight or waiting out a backoff. */
  busy: boolean;
}

export class WebhookDispatcher {
  private readonly urls: readonly string[];
  private readonly key: ApiKey;
  private readonly once: WebhookOnceStore;
  private readonly counter: Counter<'result'>;
  private readonly logger: Logger;
  private readonly fetch: typeof globalThis.fetch;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxQueued: number;
  private readonly retryForMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly onceTtlMs: number;

  private readonly lanes = new Map<string, Lane>();
  private readonly ready = new Fifo<Lane>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<AbortController>();
  private readonly running = new Set<Promise<void>>();
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private waiting = 0;
  private unfinished = 0;
  private inFlight = 0;
  private pumpScheduled = false;
  private closed = false;
  private lastOverflowWarnAt = Number.NEGATIVE_INFINITY;

  constructor(options: WebhookDispatcherOptions) {
    for (const url of options.urls) {
      if (!/^https?:\/\//.test(url))
        throw new UsherConfigError('webhook URLs must start with http:// or https://');
    }
    this.urls = [...options.urls];
    this.key = options.key;
    this.once = options.once;
    this.counter = options.counter;
    this.logger = options.logger;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.maxQueued = options.maxQueued ?? 10_000;
    this.retryForMs = options.retryForMs ?? 120_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.maxInFlight = options.maxInFlight ?? 8;
    this.onceTtlMs = options.onceTtlMs ?? 10 * 60_000;
  }

  /** Events not yet delivered, dropped or skipped (waiting, in flight or backing off). */
  get pending(): number {
    return this.unfinished;
  }

  /**
   * Queue an event for every target; returns it with its id and time. Never waits, never
   * throws for a slow or dead receiver. `onceKey` names the fact when several brokers may see it.
   */
  enqueue(input: WebhookEventInput, onceKey?: string): WebhookEvent {
    const event = {
      id:
        onceKey === undefined
          ? randomId(16)
          : createHash('sha256').update(onceKey).digest('base64url').slice(0, 32),
      createdAt: this.now(),
      ...input,
    } as WebhookEvent;
    if (this.closed) return event;
    const body = JSON.stringify(event);
    const room = 'room' in event ? event.room : '';
    for (let target = 0; target < this.urls.length; target++) {
      const laneKey = `${target}\n${room}`;
      let lane = this.lanes.get(laneKey);
      if (lane === undefined) {
        lane = { key: laneKey, queue: new Fifo(), current: undefined, busy: false };
        this.lanes.set(laneKey, lane);
      }
      const entry: Entry = {
        event,
        body,
        target,
        lane,
        state: 'waiting',
        firstAttemptAt: undefined,
        attempts: 0,
        older: this.newest,
        newer: undefined,
      };
      lane.queue.push(entry);
      if (this.newest === undefined) this.oldest = entry;
      else this.newest.newer = entry;
      this.newest = entry;
      this.waiting++;
      this.unfinished++;
      if (this.waiting > this.maxQueued) this.dropOldest();
      if (!lane.busy) {
        lane.busy = true;
        this.ready.push(lane);
      }
    }
    this.schedulePump();
    return event;
  }

  /** Stops delivering: pending events are abandoned, attempts in flight aborted. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.requests) controller.abort();
    await Promise.allSettled([...this.running]);
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    // After the current request's work: enqueue stays O(1) and fetch starts on a later turn.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.maxInFlight) {
      const lane = this.ready.shift();
      if (lane === undefined) return;
      this.inFlight++;
      const run = this.serve(lane).finally(() => {
        this.inFlight--;
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  /** One step of a lane: the head event's claim and one attempt, then back to the ready queue or a timer. */
  private async serve(lane: Lane): Promise<void> {
    const entry = lane.current ?? this.takeHead(lane);
    if (entry === undefined) {
      lane.busy = false;
      if (lane.queue.size === 0) this.lanes.delete(lane.key);
      return;
    }
    if (entry.attempts === 0 && entry.firstAttemptAt === undefined) {
      entry.firstAttemptAt = this.now();
      if (!(await this.claim(entry))) {
        this.finish(entry, 'duplicate');
        return this.requeue(lane);
      }
    }
    if (this.closed) return;
    const ok = await this.attempt(entry);
    if (this.closed) return;
    if (ok) {
      this.finish(entry, 'delivered');
      return this.requeue(lane);
    }
    entry.attempts++;
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (entry.attempts - 1));
    const delay = base / 2 + (this.random() * base) / 2;
    if (this.now() + delay > entry.firstAttemptAt! + this.retryForMs) {
      this.logger.warn(
        { event: entry.event.event, id: entry.event.id, target: entry.target, attempts: entry.attempts },
        'webhook dropped: the receiver did not accept it within the retry window',
      );
      this.finish(entry, 'dropped');
      return this.requeue(lane);
    }
    this.counter.inc({ result: 'retried' });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.ready.push(lane);
      this.pump();
    }, delay);
    this.timers.add(timer);
  }

  private requeue(lane: Lane): void {
    if (lane.queue.size === 0) {
      lane.busy = false;
      this.lanes.delete(lane.key);
      return;
    }
    this.ready.push(lane);
  }

  private takeHead(lane: Lane): Entry | undefined {
    for (let entry = lane.queue.shift(); entry !== undefined; entry = lane.queue.shift()) {
      if (entry.state !== 'waiting') continue; // pushed out of a full queue
      this.unlink(entry);
      entry.state = 'current';
      lane.current = entry;
      return entry;
    }
    return undefined;
  }

  private finish(entry: Entry, result: WebhookResult): void {
    entry.state = 'finished';
    if (entry.lane.current === entry) entry.lane.current = undefined;
    this.unfinished--;
    this.counter.inc({ result });
  }

  private dropOldest(): void {
    const entry = this.oldest;
    if (entry === undefined) return;
    this.unlink(entry);
    // Left in its lane's queue and skipped there: removal from the middle would not be O(1).
    this.finish(entry, 'overflow');
    const now = this.now();
    if (now - this.lastOverflowWarnAt >= 5000) {
      this.lastOverflowWarnAt = now;
      this.logger.warn({ maxQueued: this.maxQueued }, 'webhook queue full: dropping the oldest events');
    }
  }

  private unlink(entry: Entry): void {
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
    this.waiting--;
  }

  private async claim(entry: Entry): Promise<boolean> {
    try {
      return await this.once.claim(`${entry.event.id}:${entry.target}`, this.onceTtlMs);
    } catch (error) {
      this.logger.warn(
        { id: entry.event.id, err: error instanceof Error ? error.message : String(error) },
        'webhook once-claim failed: delivering anyway (the receiver drops a duplicate id)',
      );
      return true;
    }
  }

  private async attempt(entry: Entry): Promise<boolean> {
    const controller = new AbortController();
    this.requests.add(controller);
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    try {
      const response = await this.fetch(this.urls[entry.target]!, {
        method: 'POST',
        headers: {
          'content-type': WEBHOOK_CONTENT_TYPE,
          authorization: signWebhook(this.key, entry.body, this.now()),
          'user-agent': 'usher-webhooks',
        },
        body: entry.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => {});
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.requests.delete(controller);
    }
  }
}

/** A queue with O(1) push and shift (an array and a moving head, compacted as it goes). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
