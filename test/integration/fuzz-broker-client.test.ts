// Fuzzing the client → broker channel on a real broker (127.0.0.1, port 0): 10,000 hostile
// `session.request` frames pipelined over WebSocket and 10,000 hostile `POST /v1/sessions`
// bodies, each answered with the documented code (or an assignment) while a steady client on
// another address keeps getting its room's server and the media servers' heartbeats keep
// landing; then malformed raw HTTP, frame-level violations, and the limiters at their defaults.
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_RESUME_TTL_SECONDS } from '../../server/broker/index.ts';
import {
  FakeMedia,
  type Json,
  keys,
  openSocket,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from '../../server/broker/testing/harness.ts';
import { resumedSessionId, signTicket } from '../../server/common/tickets.ts';
import { createDecoder } from '../../shared/codec.ts';
import { ErrorCatalogue } from '../../shared/errors.ts';
import { BrokerInbound, BrokerOutbound } from '../../shared/protocol/broker.ts';
import { Limits } from '../../shared/protocol/common.ts';
import {
  assertNoErrorLogs,
  checkProperty,
  type Frame,
  guardProcess,
  hostileFrames,
  isDocumentedCode,
  outboundChecker,
  RAW_VIOLATIONS,
  tally,
} from './testing/fuzz.ts';

const decoder = createDecoder(BrokerInbound);
const checkOutbound = outboundChecker(BrokerOutbound);
const DECODE_CODES = new Set(['BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'UNSUPPORTED_VERSION']);
const UNLIMITED = {
  rateLimit: { perMinute: 1e9, burst: 1e9 },
  sessionSocketLimit: { burst: 1e9, perSecond: 1e9, abuseDebt: 1e9 },
};
/** The room of the well-behaved client; the fuzzer never names it (so it never moves it). */
const STEADY_ROOM = 'steady-room';

const rooms = fc
  .oneof(
    fc.constantFrom('lobby', 'r1', 'game-2', 'a.b_c'),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
  )
  .filter((room) => room !== STEADY_ROOM);
const sessionIds = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
const ticketFor = (sessionId: string, room: string): string =>
  signTicket(keys, { sessionId, room, serverId: 'm1', name: '', ttlSeconds: 30 }).ticket;
/** `resume` proofs: a ticket of the request's own room (good), of another room, or junk. */
const resumeProof = fc.oneof(
  sessionIds.map((sessionId) => ({ sameRoom: sessionId })),
  fc.tuple(sessionIds, rooms).map(([sessionId, room]) => ticketFor(sessionId, room)),
  fc.string({ minLength: 1, maxLength: 2048 }),
);
const validRequest = fc
  .record(
    {
      type: fc.constant('session.request'),
      v: fc.constant(1),
      id: fc.string({ minLength: 1, maxLength: 64 }),
      room: rooms,
      name: fc.string({ maxLength: 64 }),
      exclude: fc.array(fc.constantFrom('m1', 'm2', 'm3', 'x'), { maxLength: 3 }),
      resume: resumeProof,
    },
    { requiredKeys: ['type', 'v', 'id', 'room'] },
  )
  .map(({ resume, ...request }) =>
    resume === undefined
      ? request
      : {
          ...request,
          resume: typeof resume === 'string' ? resume : ticketFor(resume.sameRoom, request.room),
        },
  );
const frames = hostileFrames(validRequest, { maxBytes: Limits.brokerFrameBytes, hugeMax: 4096 });

/** What the protocol says one frame is answered with: a decode failure, or a reply to a valid request. */
function expectedFor(frame: Frame): { key: string; codes?: ReadonlySet<string> } {
  if (frame.binary) return { key: 'BAD_MESSAGE|null' };
  const decoded = decoder.decode(frame.text);
  if (!decoded.ok) return { key: `${decoded.code}|${decoded.id}` };
  const { resume, id } = decoded.msg;
  const resumable = resume === undefined || provesSession(resume, decoded.msg.room);
  return {
    key: `valid|${id}`,
    codes: new Set(
      resumable
        ? ['session.assigned', 'NO_SERVER_AVAILABLE', 'TOO_MANY_IN_FLIGHT']
        : ['BAD_RESUME', 'TOO_MANY_IN_FLIGHT'],
    ),
  };
}

function provesSession(ticket: string, room: string): boolean {
  try {
    resumedSessionId(keys, ticket, room, DEFAULT_RESUME_TTL_SECONDS);
    return true;
  } catch {
    return false;
  }
}

function replyKey(reply: Json): string {
  return reply.type === 'error' && DECODE_CODES.has(String(reply.code))
    ? `${reply.code}|${reply.id}`
    : `valid|${reply.id}`;
}

/** A broker with two heartbeating media servers and a steady client on 127.0.0.2. */
async function fleet(t: TestContext, overrides: Parameters<typeof startBroker>[1] = UNLIMITED) {
  const tb = await startBroker(t, { heartbeat: { intervalMs: 100, timeoutMs: 1500 }, ...overrides });
  await FakeMedia.connect(t, tb, 'm1', { heartbeatMs: 100 });
  await FakeMedia.connect(t, tb, 'm2', { heartbeatMs: 100 });
  const steady = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
  const first = await steady.request({ room: STEADY_ROOM });
  const server = (first.server as { id: string }).id;
  const latencies: number[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const reply = await steady
        .request({ room: STEADY_ROOM })
        .catch((error: Error) => ({ error: error.message }));
      latencies.push(performance.now() - started);
      const got = (reply as Json).server as { id?: string } | undefined;
      if (got?.id !== server) failures.push(JSON.stringify(reply).slice(0, 300));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  t.after(() => {
    running = false;
  });
  return {
    tb,
    /** Stops the steady client and checks it was served all along, and the fleet stayed whole. */
    async verify(): Promise<void> {
      running = false;
      await loop;
      const last = await steady.request({ room: STEADY_ROOM });
      assert.equal((last.server as { id?: string } | undefined)?.id, server, 'still served after the fuzz');
      assert.deepEqual(failures, [], 'the steady client always got its room on the same server');
      assert.ok(Math.max(...latencies) < 1000, `a steady request took ${Math.max(...latencies)} ms`);
      assert.deepEqual(tb.logged('media server lost'), [], 'no media server missed its heartbeat');
      const health = await (await fetch(tb.http('/healthz'))).json();
      assert.equal((health as { servers: number }).servers, 2);
      assertNoErrorLogs(tb.records);
    },
  };
}

test('fuzz: client → broker', { timeout: 180_000 }, async (t) => {
  guardProcess(t);

  await t.test('10,000 hostile session.request frames over one WebSocket, each answered once', async (t) => {
    const { tb, verify } = await fleet(t);
    const fuzz = await SessionClient.open(t, tb);
    const outcomes: string[] = [];
    let sent = 0;
    await checkProperty(
      fc.asyncProperty(fc.array(frames, { minLength: 100, maxLength: 100 }), async (batch) => {
        const from = fuzz.inbox.messages.length;
        const expected = batch.map(expectedFor);
        for (const frame of batch) {
          if (frame.binary) fuzz.inbox.socket.send(frame.bytes, { binary: true });
          else fuzz.inbox.socket.send(frame.text);
        }
        sent += batch.length;
        await waitFor(
          'every frame answered',
          () => fuzz.inbox.messages.length >= from + batch.length,
          10_000,
        );
        const replies = fuzz.inbox.messages.slice(from, from + batch.length);
        assert.deepEqual(tally(replies.map(replyKey)), tally(expected.map((e) => e.key)));
        for (const reply of replies) {
          assert.equal(checkOutbound(reply), null);
          const outcome = reply.type === 'error' ? String(reply.code) : String(reply.type);
          outcomes.push(outcome);
          if (replyKey(reply).startsWith('valid|')) {
            // Ids may repeat within a batch: any frame with this id may be the one answered.
            const allowed = expected
              .filter((e) => e.key === replyKey(reply))
              .some((e) => e.codes?.has(outcome) === true);
            assert.ok(allowed, `${outcome} for a valid request with id ${JSON.stringify(reply.id)}`);
          }
        }
      }),
      100,
    );
    // One more, so that a stray extra answer would have shown up. Read by position, not by
    // id: the fuzzer's own ids may include any id the helper would pick (e.g. "r1").
    const before = fuzz.inbox.messages.length;
    fuzz.inbox.send({ type: 'session.request', v: 1, id: 'after-the-fuzz', room: 'last' });
    await waitFor('the last answer', () => fuzz.inbox.messages.length > before, 10_000);
    const last = fuzz.inbox.messages[before]!;
    assert.deepEqual([last.type, last.id], ['session.assigned', 'after-the-fuzz']);
    assert.equal(fuzz.inbox.messages.length, sent + 1, 'exactly one answer per frame');
    assert.equal(fuzz.inbox.socket.readyState, fuzz.inbox.socket.OPEN);
    t.diagnostic(`${sent} frames; outcomes ${JSON.stringify(tally(outcomes))}`);
    assert.ok(sent >= 10_000);
    await verify();
  });

  await t.test(
    '10,000 hostile POST /v1/sessions bodies, each answered with its status and code',
    async (t) => {
      const { tb, verify } = await fleet(t);
      const url = tb.http('/v1/sessions');
      const contentTypes = [
        'application/json',
        'text/plain',
        'text/plain;charset=UTF-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        'application/octet-stream',
        '*/*',
        'x/y; a="b"',
      ];
      const outcomes: string[] = [];
      let sent = 0;
      await checkProperty(
        fc.asyncProperty(fc.array(frames, { minLength: 100, maxLength: 100 }), async (batch) => {
          const problems: string[] = [];
          const one = async (frame: Frame, index: number) => {
            const body = frame.binary ? Buffer.from(frame.bytes) : frame.text;
            const response = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': contentTypes[index % contentTypes.length]! },
              body,
            });
            const text = await response.text();
            let reply: Json;
            try {
              reply = JSON.parse(text) as Json;
            } catch {
              problems.push(`not JSON (${response.status}): ${text.slice(0, 200)}`);
              return;
            }
            const outcome = reply.type === 'error' ? String(reply.code) : String(reply.type);
            outcomes.push(outcome);
            const problem = checkOutbound(reply);
            if (problem !== null) problems.push(problem);
            const status = reply.type === 'error' ? ErrorCatalogue[reply.code as 'BAD_JSON'].status : 200;
            if (response.status !== status) problems.push(`${outcome} with status ${response.status}`);
            const raw = frame.binary ? Buffer.from(frame.bytes).toString('utf8') : frame.text;
            const want = httpExpected(raw);
            const got =
              reply.type === 'error' && DECODE_CODES.has(outcome)
                ? `${outcome}|${reply.id}`
                : `valid|${reply.id}`;
            if (got !== want.key && !(want.empty && outcome === 'BAD_MESSAGE'))
              problems.push(`answered ${got}, documented ${want.key}: ${JSON.stringify(raw).slice(0, 200)}`);
          };
          // Eight at a time on kept-alive connections.
          for (let start = 0; start < batch.length; start += 8)
            await Promise.all(batch.slice(start, start + 8).map((frame, i) => one(frame, start + i)));
          sent += batch.length;
          assert.deepEqual(problems, []);
        }),
        100,
      );
      t.diagnostic(`${sent} requests; outcomes ${JSON.stringify(tally(outcomes))}`);
      assert.ok(sent >= 10_000);
      await verify();
    },
  );

  await t.test('malformed raw HTTP: an error in the documented shape, or a closed connection', async (t) => {
    const { tb, verify } = await fleet(t);
    const body = '{"type":"session.request","v":1,"id":"h1","room":"lobby"}';
    const base = `POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const damaged = fc.oneof(
      fc.constantFrom(
        'NOT HTTP\r\n\r\n',
        'GET / HTTP/9.9\r\n\r\n',
        'GET /v1/session HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!\r\nSec-WebSocket-Version: 13\r\n\r\n',
        'GET /v1/session HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\n\r\n',
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n${body}\r\n0\r\n\r\n`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n${body}`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n${body}`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n${body}`,
        `POST /v1/sessions?${'a=1&'.repeat(2000)} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a":\u0000}',
        `POST http://evil.example/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        `POST /%zz HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nOrigin: null\r\n\r\n${body}`,
      ),
      fc
        .tuple(fc.nat({ max: base.length }), fc.string({ unit: 'binary', maxLength: 6 }), fc.nat({ max: 6 }))
        .map(([at, insert, drop]) => base.slice(0, at) + insert + base.slice(at + drop)),
    );
    const samples = fc.sample(damaged, { numRuns: 300 });
    const problems: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, worker) => {
        for (let index = worker; index < samples.length; index += 10) {
          const problem = await rawExchange(tb, samples[index]!);
          if (problem !== null) problems.push(problem);
        }
      }),
    );
    assert.deepEqual(problems, []);
    await verify();
  });

  await t.test('frame-level WebSocket violations close with a standard code', async (t) => {
    const { tb, verify } = await fleet(t);
    for (const violation of RAW_VIOLATIONS) {
      const inbox = await openSocket(t, tb.ws('/v1/session'));
      (inbox.socket as unknown as { _socket: { write(bytes: Buffer): void } })._socket.write(violation.bytes);
      assert.equal((await inbox.closed).code, violation.close, violation.what);
    }
    await verify();
  });

  await t.test('at the default limits a fuzzer meets the limiters: RATE_LIMITED, 4429, 429', async (t) => {
    const { tb, verify } = await fleet(t, {});
    const fuzz = await SessionClient.open(t, tb);
    const sample = fc.sample(frames, { numRuns: 1000, seed: 11 });
    for (const frame of sample) {
      if (frame.binary) fuzz.inbox.socket.send(frame.bytes, { binary: true });
      else fuzz.inbox.socket.send(frame.text);
    }
    assert.equal((await fuzz.inbox.closed).code, 4429);
    const limited = fuzz.inbox.messages.filter((message) => message.code === 'RATE_LIMITED');
    assert.ok(limited.length >= 200, `${limited.length} RATE_LIMITED`);
    assert.ok(limited.slice(0, -1).every((message) => (message.retryAfterMs as number) > 0));
    // Over HTTP, the address's budget (600 at once) runs out.
    const statuses: number[] = [];
    for (let start = 0; start < 700; start += 25) {
      const results = await Promise.all(
        Array.from({ length: 25 }, async (_, i) => {
          const frame = sample[(start + i) % sample.length]!;
          const response = await fetch(tb.http('/v1/sessions'), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: frame.binary ? Buffer.from(frame.bytes) : frame.text,
          });
          const reply = (await response.json()) as Json;
          if (response.status === 429) {
            assert.equal(reply.code, 'RATE_LIMITED');
            assert.ok((reply.retryAfterMs as number) > 0);
            assert.ok(Number(response.headers.get('retry-after')) >= 1);
          } else assert.ok(isDocumentedCode(reply.code) || reply.type === 'session.assigned');
          return response.status;
        }),
      );
      statuses.push(...results);
    }
    assert.ok(
      statuses.filter((status) => status === 429).length >= 50,
      JSON.stringify(tally(statuses.map(String))),
    );
    await verify();
  });
});

/** How the broker answers a body over HTTP: the same decode as over WebSocket. */
function httpExpected(text: string): { key: string; empty: boolean } {
  if (text.trim() === '') return { key: 'BAD_MESSAGE|null', empty: true };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { key: 'BAD_JSON|null', empty: false };
  }
  const decoded = decoder.decodeValue(value);
  return { key: decoded.ok ? `valid|${decoded.msg.id}` : `${decoded.code}|${decoded.id}`, empty: false };
}

/** Sends raw bytes, half-closes, reads until the server closes: null if the answer is acceptable. */
function rawExchange(tb: TestBroker, request: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tcpConnect(tb.broker.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer and no close within 5 s: ${JSON.stringify(request.slice(0, 120))}`);
    }, 5000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const response = Buffer.concat(chunks).toString('utf8');
      if (response === '') return resolve(null);
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(response);
      if (match === null) return resolve(`not an HTTP response: ${JSON.stringify(response.slice(0, 120))}`);
      const status = Number(match[1]);
      const headerEnd = response.indexOf('\r\n\r\n');
      const bodyText = response.slice(headerEnd + 4);
      if (status === 101) return resolve(null);
      if (status < 400)
        return resolve(status === 200 && bodyText.includes('session.assigned') ? null : `status ${status}`);
      try {
        const body = JSON.parse(bodyText.trim().split('\r\n').at(-1) ?? '') as Json;
        if (body.type !== 'error' || !isDocumentedCode(body.code))
          return resolve(
            `status ${status} with ${JSON.stringify(response.slice(0, 400))} for ${JSON.stringify(request.slice(0, 200))}`,
          );
        if (ErrorCatalogue[body.code].status !== status) return resolve(`${body.code} with status ${status}`);
        resolve(checkOutbound(body));
      } catch {
        resolve(`status ${status} without a JSON error: ${JSON.stringify(response.slice(0, 200))}`);
      }
    });
    socket.write(request, 'utf8');
    socket.end();
  });
}
