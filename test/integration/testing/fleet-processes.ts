// Test fixture: a fleet of real `usher broker` / `usher media` processes (and an HAProxy front)
// on free loopback ports, the SDK's UsherSession as members, and the probes the failure tests use.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { haproxyConfig } from '../../../server/cli/haproxy-config.ts';
import { freePort } from '../../../shared/testing/free-port.ts';
import { waitUntil } from '../../../shared/testing/wait.ts';
import type { UsherClientError } from '../../../web/sdk/errors.ts';
import { UsherSession } from '../../../web/sdk/session.ts';
import { fakeRtc } from '../../../web/sdk/testing/fake-rtc.ts';
import type { WebSocketConstructor } from '../../../web/sdk/websocket.ts';

const BIN = fileURLToPath(new URL('../../../bin/usher.mjs', import.meta.url));
const HAPROXY = process.env.USHER_TEST_HAPROXY ?? '/usr/sbin/haproxy';
export const SECRET = 'room-truth-secret-0123456789';
export const ADMIN_TOKEN = 'room-truth-admin-token-0123456789';
/** Enough for every info line of a test's run; the oldest output goes first beyond it. */
const OUTPUT_KEPT = 4_000_000;

/** Where clean-ups are registered: a TestContext. */
export interface Cleanup {
  after(fn: () => Promise<void> | void): void;
}

/** One child process that can be killed, frozen and started again with the same arguments. */
export class FleetProcess {
  #child: ChildProcess | undefined;
  #frozen = false;
  #output = '';

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    readonly env: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last part of its stdout and stderr together. */
  output(): string {
    return this.#output;
  }

  /** Its JSON log records (pino, one per line) with this `msg`. */
  logRecords(msg: string): Array<Record<string, unknown>> {
    const records: Array<Record<string, unknown>> = [];
    for (const line of this.#output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.msg === msg) records.push(record);
      } catch {
        // a line cut by the output limit
      }
    }
    return records;
  }

  start(): void {
    if (this.running()) throw new Error(`${this.name} is already running`);
    const child = spawn(this.command, [...this.args], {
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (error) => collect(Buffer.from(`spawn error: ${error.message}\n`)));
    this.#child = child;
    this.#frozen = false;
  }

  running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILL (a thawed process first gets SIGCONT so that it can be reaped), and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.#frozen) child.kill('SIGCONT');
    this.#frozen = false;
    child.kill('SIGKILL');
    await exited;
  }

  freeze(): void {
    if (!this.running() || this.#frozen) return;
    this.#child?.kill('SIGSTOP');
    this.#frozen = true;
  }

  thaw(): void {
    if (!this.running() || !this.#frozen) return;
    this.#child?.kill('SIGCONT');
    this.#frozen = false;
  }
}

function spawnProcess(
  t: Cleanup,
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
): FleetProcess {
  const proc = new FleetProcess(name, command, args, env);
  t.after(() => proc.kill());
  proc.start();
  return proc;
}

export interface BrokerProcess {
  readonly process: FleetProcess;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port>/v1/session: what the SDK is given. */
  readonly sessionUrl: string;
  /** SIGKILL, then the same command on the same port; resolves when it answers HTTP again. */
  restart(): Promise<void>;
}

export interface BrokerOptions {
  redisUrl?: string;
  extraArgs?: string[];
}

/** `usher broker` with an admin token, no rate limit and the default ping/heartbeat settings. */
export async function startBroker(t: Cleanup, options: BrokerOptions = {}): Promise<BrokerProcess> {
  const port = await freePort();
  const args = [BIN, 'broker', '--port', String(port), '--rate-limit-per-min', '0'];
  if (options.redisUrl !== undefined) args.push('--redis-url', options.redisUrl);
  args.push(...(options.extraArgs ?? []));
  const proc = spawnProcess(t, `broker:${port}`, process.execPath, args, {
    USHER_SECRET: SECRET,
    USHER_ADMIN_TOKEN: ADMIN_TOKEN,
    // The failure tests' members send no join tokens: admission has its own tests.
    USHER_AUTH: 'open',
    // No built web app is needed here: a folder that does not exist only adds a warning.
    USHER_STATIC_DIR: join(tmpdir(), 'usher-room-truth-no-web'),
  });
  const url = `http://127.0.0.1:${port}`;
  const broker: BrokerProcess = {
    process: proc,
    port,
    url,
    sessionUrl: `ws://127.0.0.1:${port}/v1/session`,
    restart: async () => {
      await proc.kill();
      proc.start();
      await waitAnswering(broker);
    },
  };
  await waitAnswering(broker);
  return broker;
}

/** The broker's HTTP server answers /healthz at all (any status). */
export async function waitAnswering(broker: BrokerProcess, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    async () => (await httpStatus(`${broker.url}/healthz`)) !== undefined,
    `${broker.process.name} to answer HTTP (output: ${broker.process.output().slice(-2000)})`,
    timeoutMs,
  );
}

export interface MediaProcess {
  readonly process: FleetProcess;
  readonly id: string;
  readonly port: number;
}

export async function startMedia(
  t: Cleanup,
  id: string,
  brokers: readonly BrokerProcess[],
  extraArgs: string[] = [],
): Promise<MediaProcess> {
  const port = await freePort();
  const args = [
    BIN,
    'media',
    '--id',
    id,
    '--port',
    String(port),
    '--broker',
    brokers.map((broker) => broker.url).join(','),
    ...extraArgs,
  ];
  const proc = spawnProcess(t, `media:${id}`, process.execPath, args, { USHER_SECRET: SECRET });
  return { process: proc, id, port };
}

/** Healthy servers the broker counts (from /healthz), or undefined when it does not answer. */
export async function registeredServers(broker: BrokerProcess): Promise<number | undefined> {
  try {
    const response = await fetch(`${broker.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { servers?: unknown };
    return typeof body.servers === 'number' ? body.servers : undefined;
  } catch {
    return undefined;
  }
}

export async function waitRegistered(
  brokers: readonly BrokerProcess[],
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  await waitUntil(
    async () => (await Promise.all(brokers.map(registeredServers))).every((n) => n === count),
    `${count} media servers registered with ${brokers.map((b) => b.process.name).join(', ')}`,
    timeoutMs,
  );
}

/** The HTTP status of a GET, or undefined when nothing answers. */
export async function httpStatus(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

export async function adminGet<T>(broker: BrokerProcess, path: string): Promise<T> {
  const response = await fetch(`${broker.url}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(3000),
  });
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** The broker's room pins (admin API): room → server id. */
export async function pinnedRooms(broker: BrokerProcess): Promise<Map<string, string>> {
  const body = await adminGet<{ rooms: Array<{ room: string; server: string }> }>(broker, '/admin/v1/rooms');
  return new Map(body.rooms.map((entry) => [entry.room, entry.server]));
}

// ---- Prometheus text ----

/** Raw text of GET /metrics. */
export async function scrape(broker: BrokerProcess): Promise<string> {
  const response = await fetch(`${broker.url}/metrics`, { signal: AbortSignal.timeout(3000) });
  if (response.status !== 200) throw new Error(`GET /metrics: ${response.status}`);
  return response.text();
}

const SAMPLE_LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The sum of every sample of `name` whose labels include `labels` (all series when empty);
 * 0 when the metric is absent, so a counter that was never incremented reads as 0.
 */
export function counter(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const label of (match[2] ?? '').matchAll(LABEL)) found.set(label[1]!, label[2]!);
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) sum += Number(match[3]);
  }
  return sum;
}

/** The counters issue #11 asks for, read from one scrape. */
export interface TruthMetrics {
  moves: Record<MoveCause, number>;
  movesTotal: number;
  splitsDetected: number;
  splitsRepaired: number;
  pinRepairs: Record<PinRepairCause, number>;
  pinRepairsTotal: number;
  /** Pin writes (keep-alive, compare-and-set) whose reply did not come in time: each may have pinned rooms uncounted. */
  pinWritesTimedOut: number;
}

export const MOVE_CAUSES = ['dead', 'frozen', 'drained', 'member', 'split', 'operator'] as const;
export type MoveCause = (typeof MOVE_CAUSES)[number];
export const PIN_REPAIR_CAUSES = ['live-elsewhere', 'missing', 'store-reconnect', 'registration'] as const;
export type PinRepairCause = (typeof PIN_REPAIR_CAUSES)[number];

export function truthMetrics(text: string): TruthMetrics {
  const moves = Object.fromEntries(
    MOVE_CAUSES.map((cause) => [cause, counter(text, 'usher_broker_room_moves_total', { cause })]),
  ) as Record<MoveCause, number>;
  const pinRepairs = Object.fromEntries(
    PIN_REPAIR_CAUSES.map((cause) => [cause, counter(text, 'usher_broker_pin_repairs_total', { cause })]),
  ) as Record<PinRepairCause, number>;
  return {
    moves,
    // Every series, whatever its label: a move under an old or unknown label still counts.
    movesTotal: counter(text, 'usher_broker_room_moves_total'),
    splitsDetected: counter(text, 'usher_broker_room_splits_detected_total'),
    splitsRepaired: counter(text, 'usher_broker_room_splits_repaired_total'),
    pinRepairs,
    pinRepairsTotal: counter(text, 'usher_broker_pin_repairs_total'),
    pinWritesTimedOut:
      counter(text, 'usher_broker_store_failures_total', { op: 'keepAlive', kind: 'timeout' }) +
      counter(text, 'usher_broker_store_failures_total', { op: 'compareAndSet', kind: 'timeout' }),
  };
}

export async function brokerTruth(broker: BrokerProcess): Promise<TruthMetrics> {
  return truthMetrics(await scrape(broker));
}

// ---- HAProxy front ----

export interface Front {
  readonly url: string;
  readonly sessionUrl: string;
  readonly checkPath: string;
}

/** HAProxy in http mode (server/cli/haproxy-config.ts), round robin over the brokers, each checked every 200 ms on /readyz. */
export async function startFront(t: Cleanup, brokers: readonly BrokerProcess[]): Promise<Front> {
  const dir = mkdtempSync(join(tmpdir(), 'usher-front-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const checkPath = '/readyz';
  // The same configuration `usher stack --brokers N` runs.
  const config = haproxyConfig({
    bind: `127.0.0.1:${port}`,
    backends: brokers.map((broker) => ({ host: '127.0.0.1', port: broker.port })),
    checkPath,
  });
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const proc = spawnProcess(t, 'haproxy', HAPROXY, ['-db', '-f', file], {});
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => (await httpStatus(`${url}/healthz`)) === 200,
    `the HAProxy front to pass requests (output: ${proc.output().slice(-2000)})`,
    15_000,
  );
  return { url, sessionUrl: `ws://127.0.0.1:${port}/v1/session`, checkPath };
}

// ---- Members: the real SDK with a fake RTCPeerConnection and `ws` ----

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export interface Member {
  readonly session: UsherSession;
  readonly room: string;
  readonly warnings: UsherClientError[];
  readonly errors: UsherClientError[];
}

let members = 0;

/** A session for `room` (not joined yet); left after the test. */
export function newMember(t: Cleanup, brokerUrl: string, room: string): Member {
  members += 1;
  const session = new UsherSession({
    brokerUrls: [brokerUrl],
    room,
    name: `m${members}`,
    WebSocket: NodeWebSocket,
    createPeerConnection: fakeRtc(`pc${members}-`).create,
  });
  const warnings: UsherClientError[] = [];
  const errors: UsherClientError[] = [];
  session.on('warning', (error) => warnings.push(error));
  session.on('error', (error) => errors.push(error));
  t.after(() => session.leave());
  return { session, room, warnings, errors };
}

/** Room → the servers its joined sessions are on. */
export function placement(sessions: Iterable<Member>): Map<string, Set<string>> {
  const rooms = new Map<string, Set<string>>();
  for (const { session, room } of sessions) {
    const server = session.serverId;
    if (server === null) continue;
    let servers = rooms.get(room);
    if (servers === undefined) {
      servers = new Set();
      rooms.set(room, servers);
    }
    servers.add(server);
  }
  return rooms;
}

/** Rooms whose joined sessions are on more than one server, with those servers. */
export function splitRooms(sessions: Iterable<Member>): string[] {
  return [...placement(sessions)]
    .filter(([, servers]) => servers.size > 1)
    .map(([room, servers]) => `${room}@${[...servers].sort().join('+')}`);
}

/**
 * Samples the split rooms every `everyMs` until `stop()`: the record the tests assert on
 * (0 splits at every sample, not only at the end).
 */
export class SplitSampler {
  readonly samples: Array<{ atMs: number; splits: string[] }> = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #startedAt = Date.now();

  constructor(
    sessions: () => Iterable<Member>,
    readonly everyMs = 200,
  ) {
    const sample = (): void => {
      this.samples.push({ atMs: Date.now() - this.#startedAt, splits: splitRooms(sessions()) });
    };
    sample();
    this.#timer = setInterval(sample, everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Split counts per sample, e.g. "0,0,2,2,1,0". */
  counts(): string {
    return this.samples.map((sample) => sample.splits.length).join(',');
  }

  splitSamples(): number {
    return this.samples.filter((sample) => sample.splits.length > 0).length;
  }

  maxSplits(): number {
    return Math.max(0, ...this.samples.map((sample) => sample.splits.length));
  }

  /** A summary for failure messages and the log. */
  describe(): string {
    const worst = this.samples.find((sample) => sample.splits.length === this.maxSplits());
    const last = this.samples.at(-1);
    return (
      `${this.splitSamples()} of ${this.samples.length} samples split (max ${this.maxSplits()} rooms` +
      `${worst === undefined ? '' : ` at +${worst.atMs} ms: ${worst.splits.join(' ')}`}; ` +
      `last: ${last?.splits.join(' ') || 'none'}); counts: ${this.counts()}`
    );
  }
}

export interface NewcomerOutcome {
  room: string;
  /** ms since the stream started. */
  atMs: number;
  /** Server joined, or undefined when the join failed. */
  server?: string;
  /** The members' servers at the moment the newcomer joined. */
  membersOn: string[];
  error?: string;
  joinMs: number;
  /** The SDK's `retrying` events before the join resolved, by code. */
  retries: string[];
}

/**
 * One newcomer per room per `periodMs` until stopped: joins, is checked against the members'
 * servers (and counted in the split samples while joined), and leaves at the next tick.
 */
export class NewcomerStream {
  readonly outcomes: NewcomerOutcome[] = [];
  readonly current = new Set<Member>();
  #timer: NodeJS.Timeout | undefined;
  #pending = new Set<Promise<void>>();
  readonly #startedAt = Date.now();

  constructor(
    readonly t: Cleanup,
    readonly brokerUrl: () => string,
    readonly rooms: readonly string[],
    readonly members: readonly Member[],
    readonly periodMs = 1000,
  ) {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), periodMs);
  }

  #tick(): void {
    for (const room of this.rooms) {
      const job = this.#newcomer(room).finally(() => this.#pending.delete(job));
      this.#pending.add(job);
    }
  }

  async #newcomer(room: string): Promise<void> {
    const member = newMember(this.t, this.brokerUrl(), room);
    const retries: string[] = [];
    member.session.on('retrying', (event) => retries.push(String(event.code)));
    const startedAt = Date.now();
    const atMs = startedAt - this.#startedAt;
    try {
      await member.session.join();
    } catch (error) {
      const code = (error as { code?: string }).code ?? String(error);
      this.outcomes.push({ room, atMs, membersOn: [], error: code, joinMs: Date.now() - startedAt, retries });
      member.session.leave();
      return;
    }
    const membersOn = [
      ...new Set(
        this.members
          .filter((other) => other.room === room && other.session.serverId !== null)
          .map((other) => other.session.serverId!),
      ),
    ].sort();
    this.outcomes.push({
      room,
      atMs,
      server: member.session.serverId ?? '?',
      membersOn,
      joinMs: Date.now() - startedAt,
      retries,
    });
    this.current.add(member);
    const leave = (): void => {
      this.current.delete(member);
      member.session.leave();
    };
    setTimeout(leave, this.periodMs).unref();
  }

  /** Stops new arrivals and waits for joins in flight (bounded by the SDK's own timeouts). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#pending);
    for (const member of this.current) member.session.leave();
    this.current.clear();
  }

  joined(): NewcomerOutcome[] {
    return this.outcomes.filter((outcome) => outcome.server !== undefined);
  }

  /** Newcomers that joined a server other than the (single) server their room's members were on. */
  misplaced(): NewcomerOutcome[] {
    return this.joined().filter(
      (outcome) => outcome.membersOn.length !== 1 || outcome.membersOn[0] !== outcome.server,
    );
  }

  failed(): NewcomerOutcome[] {
    return this.outcomes.filter((outcome) => outcome.server === undefined);
  }

  /** Join times and the retries clients went through, e.g. "join ms max 1200, median 40; retries 3 (INTERNAL×3)". */
  describeWaits(): string {
    const times = this.outcomes.map((outcome) => outcome.joinMs).sort((a, b) => a - b);
    const retries = new Map<string, number>();
    for (const outcome of this.outcomes)
      for (const code of outcome.retries) retries.set(code, (retries.get(code) ?? 0) + 1);
    const total = [...retries.values()].reduce((sum, n) => sum + n, 0);
    return (
      `join ms max ${times.at(-1) ?? 0}, median ${times[Math.floor(times.length / 2)] ?? 0}; ` +
      `retries ${total}${total > 0 ? ` (${[...retries].map(([code, n]) => `${code}×${n}`).join(', ')})` : ''}`
    );
  }

  describe(): string {
    const errors = new Map<string, number>();
    for (const outcome of this.failed()) errors.set(outcome.error!, (errors.get(outcome.error!) ?? 0) + 1);
    const misplaced = this.misplaced()
      .slice(0, 8)
      .map((o) => `${o.room}@+${o.atMs}ms→${o.server} (members on ${o.membersOn.join('+') || 'none'})`);
    return (
      `${this.outcomes.length} newcomers: ${this.joined().length} joined, ${this.misplaced().length} misplaced` +
      `${misplaced.length > 0 ? ` [${misplaced.join('; ')}]` : ''}, ${this.failed().length} failed` +
      `${errors.size > 0 ? ` (${[...errors].map(([code, n]) => `${code}×${n}`).join(', ')})` : ''}`
    );
  }
}

/** Joins a media server with a ticket or seat: the reply's type (`joined`), its error code, `timeout` or `unreachable`. */
export async function joinWith(url: string, ticket: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      resolve('timeout');
    }, 3000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'join', v: 1, ticket })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; code?: string };
      clearTimeout(timer);
      socket.close();
      resolve(message.type === 'error' ? (message.code ?? 'error') : message.type);
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve('unreachable');
    });
  });
}
