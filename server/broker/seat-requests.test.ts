// The broker's seat requests on one control connection: pipelined, matched by id in any
// order, each resolved once — by its answer, its deadline, or the connection closing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SeatReserve } from '../../shared/protocol/control.ts';
import { SeatRequests } from './seat-requests.ts';

const request = { room: 'r', sessionId: 's', identity: 'i', name: 'n', expiresAt: 0 };

test('many reservations in flight are answered out of order, each by its own id', async () => {
  const sent: SeatReserve[] = [];
  const seats = new SeatRequests((message) => sent.push(message));
  const outcomes = Array.from({ length: 5 }, () => seats.reserve(request, 5000));
  assert.equal(sent.length, 5);
  assert.equal(new Set(sent.map((m) => m.id)).size, 5);
  assert.equal(seats.inFlight, 5);
  for (const message of [...sent].reverse())
    assert.ok(
      seats.answer(
        message === sent[2]
          ? { type: 'refused', v: 1, id: message.id, code: 'SERVER_FULL' }
          : { type: 'reserved', v: 1, id: message.id, confirmation: `c-${message.id}` },
      ),
    );
  const results = await Promise.all(outcomes);
  results.forEach((outcome, index) => {
    if (index === 2) assert.deepEqual(outcome, { kind: 'refused', code: 'SERVER_FULL' });
    else assert.deepEqual(outcome, { kind: 'reserved', confirmation: `c-${sent[index]?.id}` });
  });
  assert.equal(seats.inFlight, 0);
});

test('no answer by the deadline is a timeout; the late answer is dropped', async () => {
  const sent: SeatReserve[] = [];
  const seats = new SeatRequests((message) => sent.push(message));
  const outcome = await seats.reserve(request, 20);
  assert.deepEqual(outcome, { kind: 'timeout' });
  assert.equal(seats.answer({ type: 'reserved', v: 1, id: sent[0]?.id ?? '', confirmation: 'late' }), false);
});

test('a closed connection resolves everything in flight, and anything asked later, as gone', async () => {
  const seats = new SeatRequests(() => {});
  const pending = seats.reserve(request, 5000);
  seats.close();
  assert.deepEqual(await pending, { kind: 'gone' });
  assert.deepEqual(await seats.reserve(request, 5000), { kind: 'gone' });
});
