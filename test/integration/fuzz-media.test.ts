// Fuzzing the client → media server channel on a real server (127.0.0.1, port 0, real ws):
// 10,000 hostile frames on a joined connection, each answered exactly as the protocol says,
// while the peers of the same room keep pinging and signalling; hostile first frames on fresh
// connections; frame-level violations; and the limiter meeting a fuzzer at the default limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { parseSecret } from '../../server/common/keys.ts';
import { signTicket } from '../../server/common/tickets.ts';
import { createMediaServer, type MediaServer, type MediaServerOptions } from '../../server/media/index.ts';
import { captureLogger } from '../../server/media/testing/harness.ts';
import { createDecoder } from '../../shared/codec.ts';
import { Limits } from '../../shared/protocol/common.ts';
import { MediaInbound, MediaOutbound } from '../../shared/protocol/media.ts';
import {
  assertNoPrototypePollution,
  checkProperty,
  type Frame,
  hostileFrames,
  outboundChecker,
  RAW_VIOLATIONS,
  tally,
  watchProcess,
} from './testing/fuzz.ts';

const keys = parseSecret(`k1:${'f'.repeat(32)}`);
const SERVER_ID = 'fuzz-media';
const ROOM = 'lobby';
const TICKET_PLACEHOLDER = '@@TICKET@@';
/** The default client ping timeout: a pong later than this would make a client fail over. */
const PING_TIMEOUT_MS = 2500;
const decoder = createDecoder(MediaInbound);
const checkOutbound = outboundChecker(MediaOutbound);
const UNLIMITED = { burst: 1e9, perSecond: 1e9, abuseDebt: 1e9 };

type Reply = Record<string, unknown> & { type: string };

/** A ws client that keeps every message (checked against the outbound schema) and its close code. */
class Peer {
  readonly received: Array<{ at: number; message: Reply }> = [];
  readonly problems: string[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private waiters = new Set<() => void>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      let message: Reply;
      try {
        message = JSON.parse(String(data)) as Reply;
      } catch {
        this.problems.push(`not JSON: ${String(data).slice(0, 200)}`);
        return;
      }
      if (isBinary) this.problems.push('a binary frame from the server');
      const problem = checkOutbound(message);
      if (problem !== null) this.problems.push(problem);
      this.received.push({ at: performance.now(), message });
      this.wake();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<Peer> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const peer = new Peer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return peer;
  }

  send(frame: Frame | string | object): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (typeof frame === 'string') this.ws.send(frame);
    else if ('binary' in frame && frame.binary === true) this.ws.send(frame.bytes, { binary: true });
    else if ('binary' in frame && frame.binary === false) this.ws.send(frame.text);
    else this.ws.send(JSON.stringify(frame));
  }

  /** Resolves with the index of the first message at or after `from` that matches, or -1 once closed. */
  async until(match: (message: Reply) => boolean, from = 0, timeoutMs = 10_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((entry, i) => i >= from && match(entry.message));
      if (index >= 0) return index;
      if (this.closeCode !== undefined) return -1;
      if (performance.now() > deadline)
        throw new Error(`timed out; last received: ${JSON.stringify(this.received.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}

/** A peer that pings on the client's schedule and records every round trip. */
function keepPinging(peer: Peer, everyMs: number) {
  const sent = new Map<number, number>();
  const rtts: number[] = [];
  let seq = 0;
  peer.ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; seq?: number };
    if (message.type !== 'pong' || message.seq === undefined) return;
    const at = sent.get(message.seq);
    if (at !== undefined) rtts.push(performance.now() - at);
    sent.delete(message.seq);
  });
  const timer = setInterval(() => {
    sent.set(seq, performance.now());
    peer.send({ type: 'ping', seq: seq++ });
  }, everyMs);
  return {
    stop: () => clearInterval(timer),
    /** Pings still waiting for their pong, and the longest round trip so far. */
    report: () => ({ answered: rtts.length, missing: sent.size, maxRttMs: Math.max(0, ...rtts) }),
  };
}

function ticketFor(sessionId: string, room = ROOM, serverId = SERVER_ID): string {
  return signTicket(keys, { sessionId, room, serverId, name: sessionId, ttlSeconds: 30 }).ticket;
}

// ---- valid client messages, the raw material of the mutations

const peerIds = fc.constantFrom('alice', 'bob', 'fuzz', 'nobody', 'x_1-Y');
const description = fc.record({
  type: fc.constantFrom('offer', 'answer'),
  sdp: fc.string({ maxLength: 300 }),
});
const candidate = fc.option(
  fc.record(
    {
      candidate: fc.string({ maxLength: 120 }),
      sdpMid: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
      sdpMLineIndex: fc.option(fc.nat({ max: 1024 }), { nil: null }),
      usernameFragment: fc.option(fc.string({ maxLength: 16 }), { nil: null }),
    },
    { requiredKeys: ['candidate'] },
  ),
  { nil: null },
);
const validMessage = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(
      { type: fc.constant('ping'), v: fc.constant(1), seq: fc.nat() },
      { requiredKeys: ['type', 'seq'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        type: fc.constant('join'),
        v: fc.constant(1),
        ticket: fc.constant(TICKET_PLACEHOLDER),
        room: fc.constantFrom(ROOM, 'other'),
      },
      { requiredKeys: ['type', 'v', 'ticket'] },
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('signal'),
      v: fc.constant(1),
      to: peerIds,
      data: fc.oneof(fc.record({ description }), fc.record({ candidate })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'leave', v: 1 }) },
);
const frames = hostileFrames(validMessage, { maxBytes: Limits.mediaFrameBytes, hugeMax: 40_000 });

/** What the protocol says a joined connection answers to one frame. */
type Expected =
  | { kind: 'error'; code: string; id: string | null }
  | { kind: 'pong'; seq: number }
  | { kind: 'relay'; to: string; data: unknown }
  | { kind: 'close'; code: number };

function expectedOnJoined(frame: Frame, self: string, others: readonly string[]): Expected {
  if (frame.binary) return { kind: 'error', code: 'BAD_MESSAGE', id: null };
  const decoded = decoder.decode(frame.text);
  if (!decoded.ok) return { kind: 'error', code: decoded.code, id: decoded.id };
  const message = decoded.msg;
  switch (message.type) {
    case 'ping':
      return { kind: 'pong', seq: message.seq + 0 }; // -0 is a valid seq; it comes back as 0
    case 'join':
      return { kind: 'error', code: 'ALREADY_JOINED', id: null };
    case 'signal':
      return message.to !== self && others.includes(message.to)
        ? { kind: 'relay', to: message.to, data: message.data }
        : { kind: 'error', code: 'PEER_NOT_FOUND', id: null };
    case 'leave':
      return { kind: 'close', code: 1000 };
  }
}

describe('fuzz: client → media server', { timeout: 180_000 }, () => {
  const watch = watchProcess();
  let server: MediaServer;
  let url = '';
  const open: Peer[] = [];

  async function start(overrides: Partial<MediaServerOptions> = {}): Promise<MediaServer> {
    const { logger } = captureLogger();
    return createMediaServer({ id: SERVER_ID, port: 0, keys, logger, rateLimit: UNLIMITED, ...overrides });
  }
  async function connect(target = url): Promise<Peer> {
    const peer = await Peer.open(target);
    open.push(peer);
    return peer;
  }
  async function join(sessionId: string, target = url): Promise<Peer> {
    const peer = await connect(target);
    const from = peer.received.length;
    peer.send({ type: 'join', v: 1, ticket: ticketFor(sessionId), room: ROOM });
    const index = await peer.until((message) => message.type === 'joined', from);
    assert.ok(index >= 0, `${sessionId} could not join`);
    return peer;
  }

  before(async () => {
    server = await start();
    url = server.url;
  });
  after(async () => {
    for (const peer of open) peer.ws.terminate();
    await server.close();
    watch.stop();
    assert.deepEqual(watch.errors, [], 'no unhandled rejection or uncaught exception');
    assertNoPrototypePollution();
  });

  test('10,000 hostile frames on a joined connection: each answered as documented; the room keeps working', async (t) => {
    const alice = await join('alice');
    const bob = await join('bob');
    let fuzz = await join('fuzz');
    const pingers = [keepPinging(alice, 25), keepPinging(bob, 25)];
    t.after(() => {
      for (const pinger of pingers) pinger.stop();
    });
    const relayed: Record<string, unknown[]> = { alice: [], bob: [] };
    const outcomes: string[] = [];
    let sent = 0;
    let sentinel = 1_000_000_000;

    await checkProperty(
      fc.asyncProperty(fc.array(frames, { minLength: 100, maxLength: 100 }), async (batch) => {
        // A valid `leave` ends the connection (close 1000): the rest of the batch goes on a rejoined one.
        let next = 0;
        while (next < batch.length) {
          const expected: Expected[] = [];
          while (next < batch.length) {
            const frame = batch[next++]!;
            const outcome = expectedOnJoined(frame, 'fuzz', ['alice', 'bob']);
            fuzz.send(frame);
            sent++;
            expected.push(outcome);
            outcomes.push(outcome.kind === 'error' ? outcome.code : outcome.kind);
            if (outcome.kind === 'relay') relayed[outcome.to]!.push(outcome.data);
            if (outcome.kind === 'close') break;
          }
          const from = fuzz.received.length;
          const closing = expected.at(-1)?.kind === 'close';
          const seq = sentinel++;
          if (!closing) fuzz.send({ type: 'ping', seq });
          if (closing) await fuzz.closed;
          const end = closing
            ? fuzz.received.length
            : await fuzz.until((message) => message.type === 'pong' && message.seq === seq, from);
          assert.ok(end >= 0, `the fuzzed connection closed (${fuzz.closeCode}) without a leave`);
          const answers = fuzz.received
            .slice(from, end)
            .map((entry) => entry.message)
            .filter((message) => message.type === 'error' || message.type === 'pong')
            .map((message) =>
              message.type === 'error'
                ? { type: 'error', code: message.code, id: message.id }
                : { type: 'pong', seq: message.seq },
            );
          const wanted = expected.flatMap(
            (outcome): Array<Record<string, unknown>> =>
              outcome.kind === 'error'
                ? [{ type: 'error', code: outcome.code, id: outcome.id }]
                : outcome.kind === 'pong'
                  ? [{ type: 'pong', seq: outcome.seq }]
                  : [],
          );
          assert.deepEqual(answers, wanted);
          if (closing) {
            assert.equal(fuzz.closeCode, 1000);
            fuzz = await join('fuzz');
          }
        }
      }),
      100,
    );
    assert.ok(sent >= 10_000, `only ${sent} frames`);
    t.diagnostic(`${sent} frames; outcomes ${JSON.stringify(tally(outcomes))}`);

    // The room: every relayed signal arrived intact and in order, pings never went unanswered
    // for longer than a client's ping timeout, and the peers can still reach each other.
    for (const [name, peer] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      const fromFuzz = () =>
        peer.received.filter((entry) => entry.message.type === 'signal' && entry.message.from === 'fuzz');
      await peer.until(() => fromFuzz().length >= relayed[name]!.length, 0, 10_000).catch(() => -1);
      assert.deepEqual(
        fromFuzz().map((entry) => entry.message.data),
        relayed[name],
        `${name} got every relayed signal`,
      );
      assert.equal(peer.closeCode, undefined, `${name} is still connected`);
      assert.deepEqual(peer.problems, [], `${name} got only schema-valid messages`);
    }
    for (const pinger of pingers) pinger.stop();
    for (const pinger of pingers) {
      const report = pinger.report();
      assert.ok(report.answered > 20, `pings were answered during the fuzz: ${JSON.stringify(report)}`);
      assert.ok(report.maxRttMs < PING_TIMEOUT_MS, `a pong took ${report.maxRttMs} ms`);
    }
    const from = bob.received.length;
    alice.send({ type: 'signal', v: 1, to: 'bob', data: { description: { type: 'offer', sdp: 'v=0' } } });
    assert.ok((await bob.until((m) => m.type === 'signal' && m.from === 'alice', from)) >= 0);
    assert.deepEqual(fuzz.problems, [], 'the fuzzer got only schema-valid messages');
    assert.deepEqual(server.stats(), { rooms: 1, peers: 3, draining: false });
  });

  /** The first frame on a fresh connection: why its outcome is not the documented one, or null. */
  async function firstFrameProblem(raw: Frame, sessionId: string): Promise<string | null> {
    const frame: Frame = raw.binary
      ? raw
      : { binary: false, text: raw.text.replace(TICKET_PLACEHOLDER, ticketFor(sessionId)) };
    const shown = JSON.stringify(frame).slice(0, 300);
    const peer = await connect();
    try {
      peer.send(frame);
      if (!frame.binary && Buffer.byteLength(frame.text) > Limits.mediaFrameBytes) {
        // The real ticket made it longer than the limit: ws itself closes with 1009.
        const code = await peer.closed;
        return code === 1009 ? null : `oversized frame: close ${code}`;
      }
      const decoded = frame.binary ? undefined : decoder.decode(frame.text);
      if (decoded?.ok && decoded.msg.type === 'join') {
        const index = await peer.until((m) => m.type === 'joined' || m.type === 'error');
        if (index < 0) return `join: closed ${peer.closeCode} without an answer: ${shown}`;
        const answer = peer.received[index]!.message;
        if (answer.type === 'joined') return null;
        const code = await peer.closed;
        return /^TICKET_/.test(String(answer.code)) && code === 4401
          ? null
          : `join: ${answer.code} then close ${code}: ${shown}`;
      }
      if (decoded?.ok && (decoded.msg.type === 'signal' || decoded.msg.type === 'leave')) {
        const index = await peer.until((m) => m.type === 'error');
        const code = await peer.closed;
        const answer = index < 0 ? undefined : peer.received[index]!.message.code;
        return answer === 'NOT_JOINED' && code === 4400 ? null : `${answer} then close ${code}: ${shown}`;
      }
      // Malformed, binary or a ping: answered, and the connection stays open for a join.
      peer.send({ type: 'ping', seq: 424242 });
      const index = await peer.until((m) => m.type === 'pong' && m.seq === 424242);
      if (index < 0) return `closed ${peer.closeCode}: ${shown}`;
      const first = peer.received[0]!.message;
      const got =
        first.type === 'error'
          ? { type: 'error', code: first.code, id: first.id }
          : { type: first.type, seq: first.seq };
      const want =
        decoded === undefined
          ? { type: 'error', code: 'BAD_MESSAGE', id: null }
          : decoded.ok
            ? { type: 'pong', seq: (decoded.msg as { seq: number }).seq }
            : { type: 'error', code: decoded.code, id: decoded.id };
      if (JSON.stringify(got) !== JSON.stringify(want))
        return `answered ${JSON.stringify(got)}, documented ${JSON.stringify(want)}: ${shown}`;
      return peer.problems.length === 0 ? null : `${peer.problems.join('; ')}: ${shown}`;
    } finally {
      peer.ws.terminate();
    }
  }

  test('hostile first frames on fresh connections: an answer and the documented close, or joined', async () => {
    let sessions = 0;
    let checked = 0;
    await checkProperty(
      fc.asyncProperty(fc.array(frames, { minLength: 20, maxLength: 20 }), async (batch) => {
        const problems = await Promise.all(
          batch.map((frame) => firstFrameProblem(frame, `pre-${sessions++}`)),
        );
        checked += batch.length;
        assert.deepEqual(
          problems.filter((problem) => problem !== null),
          [],
        );
      }),
      25,
    );
    assert.ok(checked >= 500, `only ${checked} first frames`);
  });

  test('frame-level protocol violations close with a standard code; nobody else notices', async () => {
    const alice = await join('carol');
    for (const violation of RAW_VIOLATIONS) {
      const peer = await connect();
      (peer.ws as unknown as { _socket: { write(bytes: Buffer): void } })._socket.write(violation.bytes);
      assert.equal(await peer.closed, violation.close, violation.what);
    }
    const from = alice.received.length;
    alice.send({ type: 'ping', seq: 7 });
    assert.ok((await alice.until((m) => m.type === 'pong' && m.seq === 7, from)) >= 0);
  });

  test('at the default limits a fuzzer meets the limiter: RATE_LIMITED with a hint, then close 4429', async (t) => {
    const limited = await start({ rateLimit: undefined });
    t.after(() => limited.close());
    const bystander = await join('dave', limited.url);
    const fuzz = await join('fuzz', limited.url);
    const batch = fc
      .sample(frames, { numRuns: 1500, seed: 7 })
      .filter((frame) => frame.binary || !/"leave"/.test(frame.text));
    for (const frame of batch) fuzz.send(frame);
    assert.equal(await fuzz.closed, 4429);
    const errors = fuzz.received.map((entry) => entry.message).filter((m) => m.type === 'error');
    const rateLimited = errors.filter((m) => m.code === 'RATE_LIMITED');
    assert.ok(rateLimited.length >= 400, `${rateLimited.length} RATE_LIMITED answers`);
    assert.ok(rateLimited.every((m, i) => i === rateLimited.length - 1 || (m.retryAfterMs as number) > 0));
    const from = bystander.received.length;
    bystander.send({ type: 'ping', seq: 1 });
    assert.ok((await bystander.until((m) => m.type === 'pong', from)) >= 0);
    assert.equal(bystander.closeCode, undefined);
  });
});
