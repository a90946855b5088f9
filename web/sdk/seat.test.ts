// The SDK's check of a seat confirmation before it dials: it must name the assigned server,
// its URL and the room; anything else is SEAT_MISMATCH, which sends the client elsewhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { checkSeat, seatPayload } from './seat.ts';

function seat(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', kid: 'k', typ: 'usher-seat+jwt' })}.${part(payload)}.c2ln`;
}

const assigned = (extra: Partial<SessionAssigned>): SessionAssigned => ({
  type: 'session.assigned',
  v: 1,
  id: 'r1',
  sessionId: 's1',
  room: 'lobby',
  server: { id: 'm1', url: 'ws://127.0.0.1:9001/v1/media' },
  ticket: 't',
  ticketExpiresAt: 0,
  ping: { intervalMs: 1000, timeoutMs: 2500 },
  iceServers: [],
  client: { address: '127.0.0.1' },
  ...extra,
});

const good = { srv: 'm1', url: 'ws://127.0.0.1:9001/v1/media', room: 'lobby', sub: 's1' };

test('a seat naming the assigned server, URL and room passes; no seat passes (older brokers)', () => {
  checkSeat(assigned({ seat: seat(good) }));
  checkSeat(assigned({}));
  assert.deepEqual(seatPayload(seat(good)), good);
});

test('a seat naming another server, URL or room, or unreadable, is SEAT_MISMATCH (retry other-server)', () => {
  for (const bad of [
    seat({ ...good, srv: 'm2' }),
    seat({ ...good, url: 'ws://127.0.0.1:9002/v1/media' }),
    seat({ ...good, room: 'other' }),
    'not-a-jws',
    'a.%%%.c',
  ]) {
    assert.throws(
      () => checkSeat(assigned({ seat: bad })),
      (error: { code?: string; retry?: string }) =>
        error.code === 'SEAT_MISMATCH' && error.retry === 'other-server',
    );
  }
});
