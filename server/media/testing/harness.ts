// Test-only helpers for the media server's tests: a ws client that queues what it
// receives, a log capture, and deadline polling (no sleeps standing in for conditions).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { waitUntil } from '../../../shared/testing/wait.ts';
import type { Logger } from '../../common/logger.ts';

export type Message = Record<string, unknown> & { type: string };

export const WAIT_MS = 3000;

/** A ws client that remembers every message and its close code. */
export class TestClient {
  readonly ws: WebSocket;
  readonly received: Message[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters = new Set<() => void>();
  readonly closed: Promise<number>;

  private constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as Message);
      this.wake();
    });
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      });
    });
  }

  static async open(url: string): Promise<TestClient> {
    const client = new TestClient(url);
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Removes and returns the first queued message matching `match` (waiting for it). */
  async next(match: (m: Message) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Message> {
    const found = await this.waitFor(() => {
      const index = this.received.findIndex(match);
      return index < 0 ? undefined : this.received.splice(index, 1)[0];
    }, timeoutMs);
    return found;
  }

  nextOfType(type: string, timeoutMs = WAIT_MS): Promise<Message> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  /** Next error, asserting its code. */
  async error(code: string): Promise<Message> {
    const message = await this.nextOfType('error');
    if (message.code !== code) throw new Error(`expected error ${code}, got ${JSON.stringify(message)}`);
    return message;
  }

  async waitClosed(timeoutMs = WAIT_MS): Promise<number> {
    return this.waitFor(() => this.closeCode, timeoutMs);
  }

  /** Ping round trip: everything the server sent before the pong is in `received` after this. */
  async roundTrip(seq: number): Promise<void> {
    this.send({ type: 'ping', seq });
    await this.next((m) => m.type === 'pong' && m.seq === seq);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }

  private waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out; received so far: ${JSON.stringify(this.received)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }
}

/** A pino logger whose records are kept in memory (debug level) for assertions. */
export function captureLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), records };
}

/** Polls `condition` until it holds, failing after `timeoutMs`. */
export function until(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(condition, what, timeoutMs);
}
