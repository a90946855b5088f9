// Fuzzing the media → broker control channel on a real broker (127.0.0.1, port 0): 10,000
// hostile frames on a registered connection, each answered exactly as documented while a
// well-behaved media server keeps its registration and a client keeps getting it; hostile
// first frames on fresh connections (refused with the documented code and close, or registered);
// and frame-level violations.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { registerClaim, TOKEN_FIRST_BYTES } from '../../server/broker/control-socket.ts';
import {
  FakeMedia,
  type Inbox,
  keys,
  openSocket,
  registerMessage,
  SessionClient,
  startBroker,
  type TestBroker,
  waitFor,
} from '../../server/broker/testing/harness.ts';
import { signControlToken, verifyControlToken } from '../../server/common/tickets.ts';
import { createDecoder } from '../../shared/codec.ts';
import { Limits } from '../../shared/protocol/common.ts';
import { ControlInbound, ControlOutbound } from '../../shared/protocol/control.ts';
import {
  assertNoErrorLogs,
  checkProperty,
  type Frame,
  guardProcess,
  hostileFrames,
  outboundChecker,
  RAW_VIOLATIONS,
  tally,
} from './testing/fuzz.ts';

const decoder = createDecoder(ControlInbound);
const checkOutbound = outboundChecker(ControlOutbound);
const ID = '@@ID@@';
const TOKEN = '@@TOKEN@@';
const STEADY_ROOM = 'steady-room';

const rooms = fc
  .oneof(fc.constantFrom('lobby', 'r1', 'a.b_c'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/))
  .filter((room) => room !== STEADY_ROOM);
const register = fc.record({
  type: fc.constant('register'),
  v: fc.constant(1),
  id: fc.constant(ID),
  url: fc.constantFrom(
    'ws://127.0.0.1:9/v1/media',
    'wss://media.example/v1/media',
    'ws://[::1]:8101/v1/media',
  ),
  token: fc.constant(TOKEN),
  capacity: fc.record({
    maxRooms: fc.integer({ min: 1, max: 1_000_000 }),
    maxPeersPerRoom: fc.integer({ min: 1, max: 1000 }),
    maxPeers: fc.integer({ min: 1, max: 1_000_000 }),
  }),
  draining: fc.boolean(),
  rooms: fc.array(fc.record({ room: rooms, peers: fc.nat() }), { maxLength: 5 }),
});
const load = fc.record({
  type: fc.constant('load'),
  v: fc.constant(1),
  peers: fc.nat(),
  rooms: fc.nat(),
  draining: fc.boolean(),
  opened: fc.array(rooms, { maxLength: 5 }),
  closed: fc.array(rooms, { maxLength: 5 }),
});
const frames = hostileFrames(fc.oneof(register, load), {
  maxBytes: Limits.controlFrameBytes,
  hugeMax: 64 * 1024,
});

/** The frame with the placeholders filled in for one server id (as a real server would send it). */
function fill(frame: Frame, id: string, token: string): Frame {
  if (frame.binary) return frame;
  return { binary: false, text: frame.text.replace(ID, id).replace(TOKEN, token) };
}

function send(inbox: Inbox, frame: Frame): void {
  if (frame.binary) inbox.socket.send(frame.bytes, { binary: true });
  else inbox.socket.send(frame.text);
}

/** A broker whose steady room lives on a heartbeating media server, with a client polling it. */
async function fleet(t: TestContext) {
  const tb = await startBroker(t, {
    heartbeat: { intervalMs: 100, timeoutMs: 1500 },
    // The fuzzer opens hundreds of control connections from one address within seconds.
    connectionLimits: { controlConnectBurst: 100_000 },
  });
  await FakeMedia.connect(t, tb, 'good', { heartbeatMs: 100 });
  const client = await SessionClient.open(t, tb, { localAddress: '127.0.0.2' });
  assert.equal(((await client.request({ room: STEADY_ROOM })).server as { id: string }).id, 'good');
  const failures: string[] = [];
  let polls = 0;
  let running = true;
  t.after(() => {
    running = false;
  });
  const loop = (async () => {
    while (running) {
      const reply = await client
        .request({ room: STEADY_ROOM })
        .catch((error: Error) => ({ error: error.message }));
      polls++;
      if ((reply as { server?: { id: string } }).server?.id !== 'good') failures.push(JSON.stringify(reply));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    tb,
    async verify(): Promise<void> {
      running = false;
      await loop;
      assert.deepEqual(failures, [], 'the steady room stayed on the good server');
      assert.ok(polls >= 1);
      assert.deepEqual(
        tb.logged('media server lost').filter((record) => record.id === 'good'),
        [],
        'the well-behaved server never missed a heartbeat',
      );
      const registered = await client.request({ room: STEADY_ROOM });
      assert.equal((registered.server as { id: string }).id, 'good');
      assertNoErrorLogs(tb.records);
    },
  };
}

test('fuzz: media server → broker control channel', { timeout: 180_000 }, async (t) => {
  guardProcess(t);

  await t.test('10,000 hostile frames on a registered connection, each answered as documented', async (t) => {
    const { tb, verify } = await fleet(t);
    const token = await signControlToken(keys, 'fuzz');
    const fuzz = await openSocket(t, tb.ws('/v1/control'));
    fuzz.send(registerMessage('fuzz', token));
    assert.equal((await fuzz.next()).type, 'registered');
    const keepAlive = { type: 'load', v: 1, peers: 0, rooms: 0, draining: false, opened: [], closed: [] };
    const outcomes: string[] = [];
    let sent = 0;
    let sentinel = 0;
    await checkProperty(
      fc.asyncProperty(fc.array(frames, { minLength: 100, maxLength: 100 }), async (batch) => {
        const from = fuzz.messages.length;
        const wanted: Array<{ code: string; id: string | null }> = [];
        for (const raw of batch) {
          const frame = fill(raw, 'fuzz', token);
          send(fuzz, frame);
          sent++;
          if (frame.binary) wanted.push({ code: 'BAD_MESSAGE', id: null });
          else {
            const decoded = decoder.decode(frame.text);
            if (!decoded.ok) wanted.push({ code: decoded.code, id: decoded.id });
            else if (decoded.msg.type === 'register') wanted.push({ code: 'BAD_MESSAGE', id: null });
            outcomes.push(decoded.ok ? decoded.msg.type : decoded.code);
          }
        }
        // A valid report keeps the registration alive; the unknown type after it marks the end.
        fuzz.send(keepAlive);
        const mark = `sentinel-${sentinel++}`;
        fuzz.send({ type: 'sentinel', id: mark });
        await waitFor(
          'the sentinel',
          () => fuzz.messages.slice(from).some((message) => message.id === mark),
          10_000,
        );
        // A reported room that another server holds under its pin gets a (valid) `migrate`.
        const answers = fuzz.messages
          .slice(from)
          .filter((message) => message.id !== mark && message.type !== 'migrate');
        for (const answer of fuzz.messages.slice(from)) assert.equal(checkOutbound(answer), null);
        assert.deepEqual(
          answers.map((message) => ({ code: message.code, id: message.id })),
          wanted,
        );
      }),
      100,
    );
    assert.ok(sent >= 10_000);
    assert.equal(fuzz.socket.readyState, fuzz.socket.OPEN, 'the fuzzing server is still registered');
    t.diagnostic(`${sent} frames; outcomes ${JSON.stringify(tally(outcomes))}`);
    await verify();
  });

  await t.test(
    'hostile first frames on fresh connections: the documented refusal and close, or registered',
    async (t) => {
      const { tb, verify } = await fleet(t);
      let next = 0;
      let checked = 0;
      const outcomes: string[] = [];
      await checkProperty(
        fc.asyncProperty(fc.array(frames, { minLength: 20, maxLength: 20 }), async (batch) => {
          const problems = await Promise.all(
            batch.map(async (raw) => {
              const id = `pre-${next++}`;
              const frame = fill(raw, id, await signControlToken(keys, id));
              const problem = await firstFrameProblem(t, tb, frame, outcomes);
              checked++;
              return problem;
            }),
          );
          assert.deepEqual(
            problems.filter((problem) => problem !== null),
            [],
          );
        }),
        25,
      );
      assert.ok(checked >= 500);
      t.diagnostic(`${checked} first frames; outcomes ${JSON.stringify(tally(outcomes))}`);
      await verify();
    },
  );

  await t.test('frame-level WebSocket violations close with a standard code', async (t) => {
    const { tb, verify } = await fleet(t);
    for (const violation of RAW_VIOLATIONS) {
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      (inbox.socket as unknown as { _socket: { write(bytes: Buffer): void } })._socket.write(violation.bytes);
      assert.equal((await inbox.closed).code, violation.close, violation.what);
    }
    await verify();
  });
});

/**
 * A first frame over TOKEN_FIRST_BYTES has its token checked before it is decoded: it must claim
 * an id and a valid token for it (as the decoded message, if it is a register, must agree).
 */
async function claimHolds(text: string): Promise<boolean> {
  const claim = registerClaim(Buffer.from(text));
  if (claim === undefined) return false;
  try {
    await verifyControlToken(keys, claim.token, claim.id);
  } catch {
    return false;
  }
  const decoded = decoder.decode(text);
  return !(
    decoded.ok &&
    decoded.msg.type === 'register' &&
    (decoded.msg.token !== claim.token || decoded.msg.id !== claim.id)
  );
}

/** What the broker does with one first frame on a fresh control connection: null if documented. */
async function firstFrameProblem(t: TestContext, tb: TestBroker, frame: Frame, outcomes: string[]) {
  const inbox = await openSocket(t, tb.ws('/v1/control'));
  const shown = JSON.stringify(frame).slice(0, 300);
  try {
    send(inbox, frame);
    const decoded = frame.binary ? undefined : decoder.decode(frame.text);
    const reply = await inbox.next(() => true, 10_000).catch(() => undefined);
    if (reply === undefined) return `no answer: ${shown}`;
    const problem = checkOutbound(reply);
    if (problem !== null) return `${problem}: ${shown}`;
    outcomes.push(reply.type === 'error' ? String(reply.code) : String(reply.type));
    if (
      !frame.binary &&
      Buffer.byteLength(frame.text) > TOKEN_FIRST_BYTES &&
      !(await claimHolds(frame.text))
    ) {
      const close = (await inbox.closed).code;
      return reply.code === 'UNAUTHORIZED' && close === 4401
        ? null
        : `large first frame without a valid claim: ${reply.code} then close ${close}, documented UNAUTHORIZED and 4401: ${shown}`;
    }
    if (decoded?.ok && decoded.msg.type === 'register') {
      if (reply.type === 'registered') return null;
      const close = (await inbox.closed).code;
      const allowed: Record<string, number> = { UNAUTHORIZED: 4401, BAD_SERVER_URL: 4400, ID_IN_USE: 4409 };
      return allowed[String(reply.code)] === close
        ? null
        : `register: ${reply.code} then close ${close}: ${shown}`;
    }
    const want =
      decoded === undefined || decoded.ok
        ? decoded?.ok
          ? 'NOT_REGISTERED'
          : 'BAD_MESSAGE'
        : decoded.code === 'UNKNOWN_TYPE'
          ? 'NOT_REGISTERED'
          : decoded.code;
    const close = (await inbox.closed).code;
    return reply.code === want && close === 4400
      ? null
      : `${reply.code} then close ${close}, documented ${want} and 4400: ${shown}`;
  } finally {
    inbox.socket.terminate();
  }
}
