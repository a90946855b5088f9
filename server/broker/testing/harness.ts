// Helpers for the broker's integration tests: a broker on port 0 with captured logs,
// WebSocket clients with an inbox, fake media servers speaking the control protocol.
// Every helper registers its own clean-up on the test context.
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { Capacity } from '../../../shared/protocol/control.ts';
import { waitUntil } from '../../../shared/testing/wait.ts';
import { parseSecret } from '../../common/keys.ts';
import { type Logger, REDACT_PATHS } from '../../common/logger.ts';
import { signControlToken } from '../../common/tickets.ts';
import { createMediaServer, type MediaServer, type MediaServerOptions } from '../../media/index.ts';
import { type Broker, type BrokerOptions, createBroker } from '../index.ts';

export const SECRET = 'broker-test-secret-0123456789';
export const keys = parseSecret(SECRET);

export type Json = Record<string, unknown> & { type?: string; id?: string | null; code?: string };

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  return { logger, records };
}

export interface TestBroker {
  broker: Broker;
  records: LogRecord[];
  http: (path: string) => string;
  ws: (path: string) => string;
  logged: (msg: string) => LogRecord[];
}

export async function startBroker(t: TestContext, options: Partial<BrokerOptions> = {}): Promise<TestBroker> {
  const { logger, records } = captureLogger();
  // No warm-up unless a test asks for one: each test starts its broker and its servers afresh.
  // Open admission unless a test asks for tokens: the admission tests choose token mode.
  const broker = await createBroker({
    port: 0,
    keys,
    logger,
    warmUpMs: 0,
    ...options,
    auth: options.auth ?? { mode: 'open' },
  });
  t.after(() => broker.close());
  return {
    broker,
    records,
    http: (path) => `${broker.url}${path}`,
    ws: (path) => `${broker.url.replace(/^http/, 'ws')}${path}`,
    logged: (msg) => records.filter((record) => record.msg === msg),
  };
}

const silentMediaLogger = pino({ level: 'silent' });

/** A real media server in this process, registered with every broker given (closed after the test). */
export async function startMedia(
  t: TestContext,
  brokers: TestBroker | TestBroker[],
  id: string,
  options: Partial<MediaServerOptions> = {},
): Promise<MediaServer> {
  const list = Array.isArray(brokers) ? brokers : [brokers];
  const server = await createMediaServer({
    id,
    port: 0,
    keys,
    logger: silentMediaLogger,
    brokerUrls: list.map((tb) => tb.broker.url),
    ...options,
  });
  t.after(() => server.close());
  for (const tb of list)
    await waitFor(`${id} registered`, () => tb.logged('media server registered').some((r) => r.id === id));
  return server;
}

/** Poll until the condition holds; fail with `what` after the deadline. */
export function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  return waitUntil(condition, what, timeoutMs);
}

/** Messages received on a socket, consumed in order by `next`. */
export class Inbox {
  readonly messages: Json[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Json));
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** The next message (after the previous `next`) that matches, within the deadline. */
  async next(match: (message: Json) => boolean = () => true, timeoutMs = 5000): Promise<Json> {
    let found: Json | undefined;
    await waitFor(
      'a matching message',
      () => {
        for (let index = this.cursor; index < this.messages.length; index++) {
          const message = this.messages[index]!;
          if (!match(message)) continue;
          found = message;
          this.cursor = index + 1;
          return true;
        }
        return false;
      },
      timeoutMs,
    );
    return found!;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
}

/** Opens a WebSocket (terminated after the test) and resolves once it is open. */
export async function openSocket(
  t: TestContext,
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<Inbox> {
  const socket = new WebSocket(url, options);
  t.after(() => socket.terminate());
  const inbox = new Inbox(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`unexpected response ${response.statusCode}`)),
    );
  });
  return inbox;
}

/** A browser-side session socket: `request` sends a session.request and awaits its answer. */
export class SessionClient {
  private counter = 0;

  constructor(readonly inbox: Inbox) {}

  static async open(
    t: TestContext,
    tb: TestBroker,
    options?: WebSocket.ClientOptions,
  ): Promise<SessionClient> {
    return new SessionClient(await openSocket(t, tb.ws('/v1/session'), options));
  }

  send(fields: Record<string, unknown>): string {
    const id = `r${++this.counter}`;
    this.inbox.send({ type: 'session.request', v: 1, id, ...fields });
    return id;
  }

  async request(fields: Record<string, unknown>): Promise<Json> {
    const id = this.send(fields);
    return this.inbox.next((message) => message.id === id);
  }
}

export function registerMessage(
  id: string,
  token: string,
  extra: { url?: string; capacity?: Partial<Capacity>; rooms?: string[]; draining?: boolean } = {},
): Json {
  return {
    type: 'register',
    v: 1,
    id,
    url: extra.url ?? `ws://127.0.0.1:9/${id}`,
    token,
    capacity: { maxRooms: 100, maxPeersPerRoom: 10, maxPeers: 1000, ...extra.capacity },
    draining: extra.draining ?? false,
    rooms: (extra.rooms ?? []).map((room) => ({ room, peers: 1 })),
  };
}

/** A media server on the control channel, with a heartbeat it can stop (to play frozen). */
export class FakeMedia {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly inbox: Inbox,
  ) {}

  static async connect(
    t: TestContext,
    tb: TestBroker,
    id: string,
    extra: Parameters<typeof registerMessage>[2] & { heartbeatMs?: number } = {},
  ): Promise<FakeMedia> {
    const inbox = await openSocket(t, tb.ws('/v1/control'));
    inbox.send(registerMessage(id, await signControlToken(keys, id), extra));
    const reply = await inbox.next();
    if (reply.type !== 'registered') throw new Error(`register failed: ${JSON.stringify(reply)}`);
    const media = new FakeMedia(id, inbox);
    t.after(() => media.stopHeartbeat());
    if (extra.heartbeatMs !== undefined) media.startHeartbeat(extra.heartbeatMs);
    return media;
  }

  load(
    fields: { peers?: number; rooms?: number; draining?: boolean; opened?: string[]; closed?: string[] } = {},
  ) {
    this.inbox.send({
      type: 'load',
      v: 1,
      peers: fields.peers ?? 0,
      rooms: fields.rooms ?? 0,
      draining: fields.draining ?? false,
      opened: fields.opened ?? [],
      closed: fields.closed ?? [],
    });
  }

  startHeartbeat(intervalMs: number): void {
    this.stopHeartbeat();
    this.timer = setInterval(() => this.load(), intervalMs);
  }

  stopHeartbeat(): void {
    clearInterval(this.timer);
  }
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as Json };
}

/** Healthy media servers as /healthz counts them. */
export async function healthyServers(tb: TestBroker): Promise<number> {
  return (await getJson(tb.http('/healthz'))).body.servers as number;
}

/** POST from a chosen local address (127.0.0.2 … is another client to the broker). */
export function postFrom(
  url: string,
  body: unknown,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Record<string, string | string[] | undefined> }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json,
              headers: res.headers,
            });
          } catch (error) {
            reject(error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
