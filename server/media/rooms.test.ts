// Room registry: membership, replacement by the same peer id, counts, hooks, capacity.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoomRegistry } from './rooms.ts';

const member = (peerId: string, name = peerId) => ({ peerId, name, identity: peerId });

test('add, get, members in join order, list and counts', () => {
  const rooms = new RoomRegistry<ReturnType<typeof member>>();
  const a = member('a');
  const b = member('b');
  const c = member('c');
  assert.equal(rooms.add('r1', a), undefined);
  rooms.add('r1', b);
  rooms.add('r2', c);
  assert.equal(rooms.get('r1', 'b'), b);
  assert.equal(rooms.get('r2', 'b'), undefined);
  assert.equal(rooms.get('nope', 'a'), undefined);
  assert.deepEqual([...rooms.members('r1')], [a, b]);
  assert.deepEqual([...rooms.members('nope')], []);
  assert.deepEqual(
    [...rooms.list()],
    [
      { room: 'r1', peers: 2 },
      { room: 'r2', peers: 1 },
    ],
  );
  assert.equal(rooms.roomCount, 2);
  assert.equal(rooms.peerCount, 3);
  assert.equal(rooms.size('r1'), 2);
});

test('the same peer id replaces and returns the old member without a new seat', () => {
  const rooms = new RoomRegistry<ReturnType<typeof member>>();
  const old = member('a', 'old');
  const fresh = member('a', 'new');
  rooms.add('r', old);
  assert.equal(rooms.add('r', fresh), old);
  assert.equal(rooms.peerCount, 1);
  assert.equal(rooms.get('r', 'a'), fresh);
  // The replaced member's later removal must not evict its successor.
  assert.equal(rooms.remove('r', old), false);
  assert.equal(rooms.get('r', 'a'), fresh);
  assert.equal(rooms.remove('r', fresh), true);
  assert.equal(rooms.remove('r', fresh), false);
  assert.equal(rooms.peerCount, 0);
});

test('hooks fire when a room opens and when it empties; empty rooms are deleted', () => {
  const events: string[] = [];
  const rooms = new RoomRegistry<ReturnType<typeof member>>({
    opened: (room) => events.push(`+${room}`),
    closed: (room) => events.push(`-${room}`),
  });
  const a = member('a');
  const b = member('b');
  rooms.add('r', a);
  rooms.add('r', b);
  rooms.remove('r', a);
  rooms.remove('r', b);
  rooms.add('r', a);
  assert.deepEqual(events, ['+r', '-r', '+r']);
  assert.equal(rooms.roomCount, 1);
  rooms.remove('r', a);
  assert.equal(rooms.roomCount, 0);
  assert.deepEqual([...rooms.list()], []);
});

test('admit enforces rooms, peers per room and peers, except for a replacing peer', () => {
  const capacity = { maxRooms: 2, maxPeersPerRoom: 2, maxPeers: 3 };
  const rooms = new RoomRegistry<ReturnType<typeof member>>();
  assert.equal(rooms.admit('r1', 'a', capacity), null);
  rooms.add('r1', member('a'));
  rooms.add('r1', member('b'));
  assert.equal(rooms.admit('r1', 'c', capacity), 'ROOM_FULL');
  assert.equal(rooms.admit('r1', 'a', capacity), null);
  assert.equal(rooms.admit('r2', 'c', capacity), null);
  rooms.add('r2', member('c'));
  assert.equal(rooms.admit('r3', 'd', capacity), 'SERVER_FULL');
  assert.equal(rooms.admit('r2', 'd', capacity), 'SERVER_FULL');
  assert.equal(rooms.admit('r2', 'c', capacity), null);
});
