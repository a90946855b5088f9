// Server-confirmed seats with real `usher broker` / `usher media` processes (issue #16): a
// server frozen (SIGSTOP) since its last load report is passed over in well under the
// heartbeat timeout, for new rooms and for a room it holds (which moves, cause `frozen`); a
// server that confirms and then dies before the join costs the client one more request. No
// client is ever given a server that did not confirm its seat.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { waitUntil } from '../../shared/testing/wait.ts';
import {
  type BrokerProcess,
  counter,
  joinWith,
  type MediaProcess,
  newMember,
  scrape,
  startBroker,
  startMedia,
  waitRegistered,
} from './testing/fleet-processes.ts';

interface Assigned {
  type: string;
  code?: string;
  server: { id: string; url: string };
  seat?: string;
  ticket: string;
}

async function request(broker: BrokerProcess, room: string, exclude: string[] = []): Promise<Assigned> {
  const response = await fetch(`${broker.url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'session.request',
      v: 1,
      id: 'r',
      room,
      ...(exclude.length === 0 ? {} : { exclude }),
    }),
    signal: AbortSignal.timeout(5000),
  });
  return (await response.json()) as Assigned;
}

function seatServer(seat: string | undefined): unknown {
  if (seat === undefined) return undefined;
  return (
    JSON.parse(Buffer.from(seat.split('.')[1] ?? '', 'base64url').toString('utf8')) as { srv?: unknown }
  ).srv;
}

async function fleet(t: TestContext): Promise<{ broker: BrokerProcess; media: Map<string, MediaProcess> }> {
  const broker = await startBroker(t, { extraArgs: ['--seat-confirm', 'on', '--seat-timeout-ms', '250'] });
  const media = new Map<string, MediaProcess>();
  for (const id of ['m1', 'm2']) media.set(id, await startMedia(t, id, [broker]));
  await waitRegistered([broker], 2);
  return { broker, media };
}

test('a server frozen since its last report is passed over in well under the heartbeat timeout', async (t) => {
  const { broker, media } = await fleet(t);
  // A room on m1, so the frozen server holds a live room too.
  let held: Assigned | undefined;
  for (let i = 0; held === undefined && i < 20; i++) {
    const reply = await request(broker, `held-${i}`);
    if (reply.server.id === 'm1') held = reply;
  }
  assert.ok(held?.seat !== undefined, 'a room placed on m1');
  assert.equal(await joinWith(held.server.url, held.seat), 'joined');
  const heldRoom = JSON.parse(Buffer.from(held.seat.split('.')[1] ?? '', 'base64url').toString('utf8'))
    .room as string;

  const frozen = media.get('m1')?.process;
  assert.ok(frozen !== undefined);
  // Frozen between its last load report and the requests: the broker's registry still sees it healthy.
  frozen.freeze();
  try {
    // New rooms: each answered from m2, fast.
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      const reply = await request(broker, `new-${i}`);
      const took = performance.now() - started;
      assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
      assert.equal(reply.server.id, 'm2');
      assert.equal(seatServer(reply.seat), 'm2');
      assert.ok(took < 1000, `new room answered in ${Math.round(took)} ms`);
    }
    // The room m1 holds: a newcomer is not sent to the frozen server; the room moves.
    const started = performance.now();
    const reply = await request(broker, heldRoom);
    const took = performance.now() - started;
    assert.equal(reply.type, 'session.assigned', JSON.stringify(reply));
    assert.equal(reply.server.id, 'm2');
    assert.equal(seatServer(reply.seat), 'm2');
    assert.ok(took < 1000, `held room answered in ${Math.round(took)} ms`);
    assert.equal(await joinWith(reply.server.url, reply.seat ?? ''), 'joined');
    const metrics = await scrape(broker);
    assert.ok(counter(metrics, 'usher_broker_seat_timeouts_total', { server: 'm1' }) >= 1);
    assert.ok(counter(metrics, 'usher_broker_room_moves_total', { cause: 'frozen' }) >= 1);
  } finally {
    frozen.thaw();
  }
});

test('a server that confirms and dies before the join: the client asks again and joins elsewhere', async (t) => {
  const { broker, media } = await fleet(t);
  const reply = await request(broker, 'dies-room');
  assert.equal(reply.type, 'session.assigned');
  const dead = reply.server.id;
  assert.equal(seatServer(reply.seat), dead);
  await media.get(dead)?.process.kill();
  assert.equal(await joinWith(reply.server.url, reply.seat ?? ''), 'unreachable');
  const again = await request(broker, 'dies-room', [dead]);
  assert.equal(again.type, 'session.assigned', JSON.stringify(again));
  assert.notEqual(again.server.id, dead);
  assert.equal(seatServer(again.seat), again.server.id);
  assert.equal(await joinWith(again.server.url, again.seat ?? ''), 'joined');
  // The SDK does the same on its own.
  const member = newMember(t, broker.sessionUrl, 'dies-room-sdk');
  await member.session.join();
  await waitUntil(() => member.session.serverId !== null, 'the SDK member joined', 5000);
  assert.notEqual(member.session.serverId, dead);
});
