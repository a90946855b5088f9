// UsherSession over real sockets with short real timers, against a fake broker and fake media
// servers: join, failover (frozen, killed, migrate), exclusions, giving up, session replaced, leave.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { WebSocket } from 'ws';
import type { PeerInfo } from '../../shared/protocol/media.ts';
import type { UsherClientError } from './errors.ts';
import type { ReconnectPolicy } from './reconnect-policy.ts';
import type { RetryingEvent } from './rejoin.ts';
import { type FailoverRecord, type SessionState, UsherSession, type UsherSessionOptions } from './session.ts';
import { fakeRtc } from './testing/fake-rtc.ts';
import {
  closedPort,
  NodeWebSocket,
  send,
  startServer,
  type TestServer,
  waitFor,
} from './testing/ws-server.ts';

const PING = { intervalMs: 50, timeoutMs: 400 };

interface Media {
  id: string;
  server: TestServer;
  /** false = frozen: the socket stays open but nothing answers. */
  answering: boolean;
}

/** `peers`: who `joined` says is already in the room. */
async function media(t: TestContext, id: string, peers: PeerInfo[] = []): Promise<Media> {
  const m: Media = { id, server: undefined as unknown as TestServer, answering: true };
  m.server = await startServer(t, (socket, msg) => {
    if (!m.answering) return;
    if (msg.type === 'join') {
      const peerId = String(msg.ticket).replace(/^ticket:/, '');
      send(socket, { type: 'joined', v: 1, room: msg.room, server: { id }, peerId, peers });
    } else if (msg.type === 'ping') {
      send(socket, { type: 'pong', v: 1, seq: msg.seq });
    }
  });
  return m;
}

function assignment(
  msg: Record<string, unknown>,
  m: { id: string; url: string },
  iceServers: RTCIceServer[] = [],
) {
  // A resume proof is the session's last ticket, which this fake makes `ticket:<session id>`.
  const resume = msg.resume as string | undefined;
  const sessionId = resume?.startsWith('ticket:') ? resume.slice('ticket:'.length) : 'peer-a';
  return {
    type: 'session.assigned',
    v: 1,
    id: msg.id,
    sessionId,
    room: msg.room,
    server: { id: m.id, url: m.url },
    ticket: `ticket:${sessionId}`,
    ticketExpiresAt: Date.now() + 30_000,
    ping: PING,
    iceServers,
    client: { address: '127.0.0.1', port: 40000 },
  };
}

type Assign = (msg: Record<string, unknown>, n: number) => unknown;

async function brokerServer(t: TestContext, assign: Assign): Promise<TestServer> {
  let n = 0;
  return startServer(t, (socket: WebSocket, msg) => {
    n += 1;
    send(socket, assign(msg, n));
  });
}

const fastRetry: ReconnectPolicy = {
  nextRetryDelayMs: ({ elapsedMs }) => (elapsedMs > 1500 ? null : 5),
};

function session(
  t: TestContext,
  broker: TestServer,
  policy = fastRetry,
  extra: Partial<UsherSessionOptions> = {},
) {
  const s = new UsherSession({
    brokerUrl: broker.url,
    room: 'lobby',
    name: 'Ada',
    WebSocket: NodeWebSocket,
    reconnectPolicy: policy,
    ...extra,
  });
  const states: SessionState[] = [];
  const failovers: FailoverRecord[] = [];
  const warnings: UsherClientError[] = [];
  const errors: UsherClientError[] = [];
  s.on('state', (state) => states.push(state));
  s.on('failover', (record) => failovers.push(record));
  s.on('warning', (error) => warnings.push(error));
  s.on('error', (error) => errors.push(error));
  t.after(() => s.leave());
  return { s, states, failovers, warnings, errors };
}

function requests(broker: TestServer): Array<Record<string, unknown>> {
  return broker.received.map((entry) => entry.msg);
}

describe('UsherSession', () => {
  test('join: an assigned server that does not answer is excluded and the broker asked again', async (t) => {
    const m2 = await media(t, 'm2');
    const deadUrl = `ws://127.0.0.1:${await closedPort()}/`;
    const broker = await brokerServer(t, (msg) =>
      (msg.exclude as string[] | undefined)?.includes('m1')
        ? assignment(msg, { id: 'm2', url: m2.server.url })
        : assignment(msg, { id: 'm1', url: deadUrl }),
    );
    const { s, warnings } = session(t, broker);
    await s.join();
    assert.equal(s.state, 'joined');
    assert.equal(s.serverId, 'm2');
    const sent = requests(broker);
    assert.equal(sent.length, 2);
    assert.equal(sent[0]?.exclude, undefined);
    assert.deepEqual(sent[1]?.exclude, ['m1']);
    assert.equal(warnings[0]?.code, 'MEDIA_UNREACHABLE');
  });

  test('join: a permanent broker error is not retried; state goes back to idle', async (t) => {
    const broker = await brokerServer(t, (msg) => ({
      type: 'error',
      v: 1,
      id: msg.id,
      code: 'UNSUPPORTED_VERSION',
      message: 'v1 only',
      supported: [1],
    }));
    const { s, warnings } = session(t, broker);
    const retries: RetryingEvent[] = [];
    s.on('retrying', (event) => retries.push(event));
    await assert.rejects(s.join(), (error: UsherClientError) => error.code === 'UNSUPPORTED_VERSION');
    assert.equal(s.state, 'idle');
    assert.equal(requests(broker).length, 1);
    assert.deepEqual(retries, []);
    assert.deepEqual(warnings, []);
  });

  test('join: broker request, then the media server; state idle → requesting → connecting → joined', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.server.url }));
    const { s, states } = session(t, broker);
    assert.equal(s.state, 'idle');
    await s.join();
    assert.deepEqual(states, ['requesting', 'connecting', 'joined']);
    assert.equal(s.serverId, 'm1');
    assert.equal(s.serverUrl, m1.server.url);
    assert.equal(s.peerId, 'peer-a');
    assert.deepEqual(s.clientAddress, { address: '127.0.0.1', port: 40000 });
    assert.deepEqual(requests(broker), [
      { type: 'session.request', v: 1, id: 'r1', room: 'lobby', name: 'Ada' },
    ]);
    assert.deepEqual(m1.server.received[0]?.msg, {
      type: 'join',
      v: 1,
      ticket: 'ticket:peer-a',
      room: 'lobby',
    });
    await waitFor(() => s.rttMs !== null, 'an RTT measurement');
  });

  test('a frozen server: pings time out, the broker is asked again excluding it, same session resumed', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const broker = await brokerServer(t, (msg) => {
      const excluded = (msg.exclude as string[] | undefined) ?? [];
      const target = excluded.includes('m1') ? m2 : m1;
      return assignment(msg, { id: target.id, url: target.server.url });
    });
    const { s, states, failovers } = session(t, broker);
    const starts: unknown[] = [];
    s.on('failover-start', (event) => starts.push(event));
    await s.join();
    const frozenAt = Date.now();
    m1.answering = false;
    await waitFor(() => failovers.length === 1, 'a failover');

    assert.deepEqual(states, ['requesting', 'connecting', 'joined', 'reconnecting', 'joined']);
    assert.equal(s.serverId, 'm2');
    assert.equal(s.peerId, 'peer-a', 'the peer id survives the move');
    const [record] = failovers;
    assert.equal(record!.from, 'm1');
    assert.equal(record!.to, 'm2');
    assert.equal(record!.reason, 'ping-timeout');
    // (-2: node timers may fire a millisecond early against Date.now.)
    assert.ok(
      record!.detectedAt - record!.lostAt >= PING.timeoutMs - 2,
      'waited timeoutMs after the last pong',
    );
    assert.ok(record!.detectedAt - frozenAt <= PING.timeoutMs + PING.intervalMs + 300, 'detected in time');
    assert.ok(record!.rejoinedAt >= record!.detectedAt);
    assert.deepEqual(starts, [
      { from: 'm1', reason: 'ping-timeout', lastPongAt: record!.lostAt, detectedAt: record!.detectedAt },
    ]);
    assert.deepEqual(requests(broker)[1], {
      type: 'session.request',
      v: 1,
      id: 'r2',
      room: 'lobby',
      name: 'Ada',
      exclude: ['m1'],
      resume: 'ticket:peer-a',
    });
    assert.deepEqual(s.failovers(), [record]);
  });

  test('a resume proof the broker refuses (too old): the client comes back to the room as a new peer', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const broker = await brokerServer(t, (msg) => {
      if (msg.resume !== undefined)
        return { type: 'error', v: 1, id: msg.id, code: 'BAD_RESUME', message: 'too old' };
      const excluded = (msg.exclude as string[] | undefined) ?? [];
      // Without a proof the broker hands out a new session id, as a real one would.
      const fresh = assignment(
        msg,
        excluded.includes('m1') ? { id: 'm2', url: m2.server.url } : { id: 'm1', url: m1.server.url },
      );
      return excluded.length > 0 ? { ...fresh, sessionId: 'peer-new', ticket: 'ticket:peer-new' } : fresh;
    });
    const { s, failovers, warnings } = session(t, broker);
    await s.join();
    assert.equal(s.peerId, 'peer-a');
    await m1.server.close();
    await waitFor(() => failovers.length === 1, 'a failover');
    assert.equal(s.serverId, 'm2');
    assert.equal(s.peerId, 'peer-new', 'same room, new peer id');
    assert.equal(warnings.map((w) => w.code).includes('BAD_RESUME'), true);
    const [, refused, retried] = requests(broker);
    assert.equal(refused?.resume, 'ticket:peer-a');
    assert.equal(retried?.resume, undefined, 'the refused proof is not sent again');
    assert.deepEqual(retried?.exclude, ['m1']);
  });

  test('a killed server (socket closed) fails over at once with reason closed', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const broker = await brokerServer(t, (_msg, n) => {
      const target = n === 1 ? m1 : m2;
      return assignment(_msg, { id: target.id, url: target.server.url });
    });
    const { s, failovers } = session(t, broker);
    await s.join();
    const killedAt = Date.now();
    await m1.server.close();
    await waitFor(() => failovers.length === 1, 'a failover');
    assert.equal(failovers[0]!.reason, 'closed');
    assert.ok(failovers[0]!.detectedAt - killedAt < PING.timeoutMs, 'no need to wait for pings');
    assert.equal(s.serverId, 'm2');
  });

  test('iceTransportPolicy reaches every peer connection; a failover restarts ICE on fresh TURN credentials', async (t) => {
    // peer-b is already in the room; our id (peer-a) is the smaller, so we offer at once.
    const peers = [{ peerId: 'peer-b', name: 'Bo' }];
    const m1 = await media(t, 'm1', peers);
    const m2 = await media(t, 'm2', peers);
    const turn = (n: number): RTCIceServer => ({
      urls: ['turn:127.0.0.1:3478?transport=udp'],
      username: `${1_000 + n}:peer-a`,
      credential: `hmac-${n}`,
    });
    const broker = await brokerServer(t, (msg, n) => {
      const target = n === 1 ? m1 : m2;
      return assignment(msg, { id: target.id, url: target.server.url }, [turn(n)]);
    });
    const rtc = fakeRtc('pc');
    const { s, failovers } = session(t, broker, fastRetry, {
      iceTransportPolicy: 'relay',
      createPeerConnection: rtc.create,
    });
    await s.join();
    assert.equal(rtc.all.length, 1);
    const pc = rtc.all[0]!;
    assert.deepEqual(pc.config, { iceServers: [turn(1)], iceTransportPolicy: 'relay' });
    await waitFor(() => pc.offers.length === 1, 'the first offer');

    await m1.server.close();
    await waitFor(() => failovers.length === 1, 'a failover');
    await waitFor(() => pc.offers.length === 2, 'the ICE-restart offer');
    assert.equal(rtc.all.length, 1, 'the same connection restarts');
    assert.deepEqual(pc.offers[1], { iceRestart: true });
    assert.deepEqual(
      pc.config,
      { iceServers: [turn(2)], iceTransportPolicy: 'relay' },
      "the new assignment's credentials, still relay-only",
    );
  });

  test('participants: one per peer; mute state goes out on channel open and on setMuted, comes in as participant-updated', async (t) => {
    const m1 = await media(t, 'm1', [{ peerId: 'peer-b', name: 'Bo' }]);
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.server.url }));
    const rtc = fakeRtc('pc');
    const track = (kind: string) => ({ kind, enabled: true });
    const tracks = [track('audio'), track('video')];
    const localStream = { getTracks: () => tracks } as unknown as MediaStream;
    const { s } = session(t, broker, fastRetry, { createPeerConnection: rtc.create, localStream });
    const joined: string[] = [];
    const updates: Array<{ audioMuted: boolean; videoMuted: boolean }> = [];
    const data: unknown[] = [];
    s.on('participant-joined', (p) => joined.push(`${p.id}:${p.name}`));
    s.on('participant-updated', (p) => updates.push({ audioMuted: p.audioMuted, videoMuted: p.videoMuted }));
    s.on('data', (_from, value) => data.push(value));
    await s.join();
    assert.deepEqual(joined, ['peer-b:Bo']);
    assert.deepEqual(s.muted, { audio: false, video: false });

    // The data channel opens: the peer is told our state at once.
    const channel = rtc.all[0]!.channels[0]!;
    channel.readyState = 'open';
    channel.onopen?.();
    assert.deepEqual(
      channel.sent.map((text) => JSON.parse(text)),
      [{ $usher: 'mute', audio: false, video: false }],
    );
    assert.deepEqual(s.setMuted({ audio: true }), { audio: true, video: false });
    assert.deepEqual(
      tracks.map((tr) => tr.enabled),
      [false, true],
      'the microphone track is disabled, not removed',
    );
    assert.deepEqual(JSON.parse(channel.sent.at(-1)!), { $usher: 'mute', audio: true, video: false });

    // The peer's own announcements update its participant; app messages still reach `data`.
    channel.onmessage?.({ data: JSON.stringify({ $usher: 'mute', audio: false, video: true }) });
    channel.onmessage?.({ data: JSON.stringify({ chat: 'hi' }) });
    assert.deepEqual(updates.at(-1), { audioMuted: false, videoMuted: true });
    assert.deepEqual(s.participant('peer-b')?.videoMuted, true);
    assert.deepEqual(data, [{ chat: 'hi' }], 'control messages never reach the data event');
    assert.equal(s.participants().length, 1);
  });

  test('without iceTransportPolicy the browser default applies (the key is absent)', async (t) => {
    const m1 = await media(t, 'm1', [{ peerId: 'peer-b', name: 'Bo' }]);
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.server.url }));
    const rtc = fakeRtc('pc');
    const { s } = session(t, broker, fastRetry, { createPeerConnection: rtc.create });
    await s.join();
    assert.deepEqual(rtc.all[0]?.config, { iceServers: [] });
  });

  test('migrate moves to another server', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const broker = await brokerServer(t, (msg, n) => {
      const target = n === 1 ? m1 : m2;
      return assignment(msg, { id: target.id, url: target.server.url });
    });
    const { s, failovers } = session(t, broker);
    await s.join();
    send(m1.server.sockets[0]!, { type: 'migrate', v: 1, reason: 'draining' });
    await waitFor(() => failovers.length === 1, 'a failover');
    assert.equal(failovers[0]!.reason, 'migrate');
    assert.deepEqual(requests(broker)[1]?.exclude, ['m1']);
  });

  test('the broker handing back the excluded server is an error: retry until it offers another', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const broker = await brokerServer(t, (msg, n) => {
      const target = n <= 2 ? m1 : m2; // join, then once more the dead m1
      return assignment(msg, { id: target.id, url: target.server.url });
    });
    const { s, failovers, warnings } = session(t, broker);
    await s.join();
    m1.answering = false;
    await waitFor(() => failovers.length === 1, 'a failover');
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['SAME_SERVER'],
    );
    assert.equal(s.serverId, 'm2');
    assert.equal(m1.server.sockets.length, 1, 'never reconnected to the excluded server');
  });

  test('an unreachable new server is excluded too on the next request', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const deadUrl = `ws://127.0.0.1:${await closedPort()}/`;
    const broker = await brokerServer(t, (msg, n) => {
      if (n === 2) return assignment(msg, { id: 'm3', url: deadUrl });
      const target = n === 1 ? m1 : m2;
      return assignment(msg, { id: target.id, url: target.server.url });
    });
    const { s, failovers, warnings } = session(t, broker);
    await s.join();
    m1.answering = false;
    await waitFor(() => failovers.length === 1, 'a failover');
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['MEDIA_UNREACHABLE'],
    );
    assert.deepEqual(requests(broker)[2]?.exclude, ['m1', 'm3']);
    assert.equal(s.serverId, 'm2');
  });

  test('a seat naming another server than the one assigned: SEAT_MISMATCH, neither dialed, asked again excluding it', async (t) => {
    const m1 = await media(t, 'm1');
    const m2 = await media(t, 'm2');
    const seatFor = (m: Media, room: unknown): string => {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const claims = { srv: m.id, url: m.server.url, room, sub: 'peer-a' };
      return `${part({ alg: 'HS256', kid: m.id, typ: 'usher-seat+jwt' })}.${part(claims)}.c2ln`;
    };
    const broker = await brokerServer(t, (msg, n) =>
      n === 1
        ? // m1's address with m2's seat: m1 never agreed to this session.
          { ...assignment(msg, { id: 'm1', url: m1.server.url }), seat: seatFor(m2, msg.room) }
        : { ...assignment(msg, { id: 'm2', url: m2.server.url }), seat: seatFor(m2, msg.room) },
    );
    const { s, warnings } = session(t, broker);
    await s.join();
    assert.deepEqual(
      warnings.map((w) => [w.code, w.retry]),
      [['SEAT_MISMATCH', 'other-server']],
    );
    const sent = requests(broker);
    assert.equal(sent.length, 2);
    assert.equal(sent[0]?.exclude, undefined);
    assert.deepEqual(sent[1]?.exclude, ['m1']);
    assert.equal(m1.server.sockets.length, 0, 'the server the seat does not name is never dialed');
    assert.equal(s.serverId, 'm2');
    // The seat, not the broker's ticket, is what the client joins with.
    assert.equal(
      m2.server.received.find((entry) => entry.msg.type === 'join')?.msg.ticket,
      seatFor(m2, 'lobby'),
    );
  });

  test('gives up when the policy says so: state closed, error GAVE_UP', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg, n) =>
      n === 1
        ? assignment(msg, { id: 'm1', url: m1.server.url })
        : { type: 'error', v: 1, id: msg.id, code: 'NO_SERVER_AVAILABLE', message: 'none' },
    );
    const twice: ReconnectPolicy = { nextRetryDelayMs: ({ attempt }) => (attempt < 2 ? 5 : null) };
    const { s, errors, warnings } = session(t, broker, twice);
    await s.join();
    m1.answering = false;
    await waitFor(() => s.state === 'closed', 'the session to close');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['GAVE_UP'],
    );
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['NO_SERVER_AVAILABLE', 'NO_SERVER_AVAILABLE'],
    );
    assert.equal(requests(broker).length, 3);
  });

  test('close 4409 (session replaced elsewhere) ends the session instead of fighting', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.server.url }));
    const { s, errors } = session(t, broker);
    await s.join();
    m1.server.sockets[0]!.close(4409, 'SESSION_REPLACED');
    await waitFor(() => s.state === 'closed', 'the session to close');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['SESSION_REPLACED'],
    );
    assert.equal(requests(broker).length, 1, 'no failover request');
  });

  test('a refused join rejects, returns to idle, and can be called again', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg, n) =>
      n === 1
        ? { type: 'error', v: 1, id: msg.id, code: 'ROOM_FULL', message: 'room is full' }
        : assignment(msg, { id: 'm1', url: m1.server.url }),
    );
    const { s } = session(t, broker);
    await assert.rejects(s.join(), (error: UsherClientError) => error.code === 'ROOM_FULL');
    assert.equal(s.state, 'idle');
    await s.join();
    assert.equal(s.state, 'joined');
  });

  test('leave says goodbye to the media server and closes every socket', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg) => assignment(msg, { id: 'm1', url: m1.server.url }));
    const { s, states } = session(t, broker);
    await s.join();
    s.leave();
    assert.equal(s.state, 'closed');
    assert.equal(states.at(-1), 'closed');
    await m1.server.message((msg) => msg.type === 'leave');
    await waitFor(
      () => [m1.server, broker].every((server) => server.sockets.every((socket) => socket.readyState === 3)),
      'both sockets to close',
    );
    await assert.rejects(s.join(), (error: UsherClientError) => error.code === 'INVALID_STATE');
  });

  test('leave during a failover stops it', async (t) => {
    const m1 = await media(t, 'm1');
    const broker = await brokerServer(t, (msg, n) =>
      n === 1
        ? assignment(msg, { id: 'm1', url: m1.server.url })
        : { type: 'error', v: 1, id: msg.id, code: 'NO_SERVER_AVAILABLE', message: 'none' },
    );
    const { s, failovers } = session(t, broker);
    await s.join();
    m1.answering = false;
    await waitFor(() => s.state === 'reconnecting', 'reconnecting');
    s.leave();
    const count = requests(broker).length;
    await new Promise((resolve) => setTimeout(resolve, 100)); // several retry periods
    assert.equal(requests(broker).length, count, 'no request after leave');
    assert.equal(s.state, 'closed');
    assert.deepEqual(failovers, []);
  });
});
