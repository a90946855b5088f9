// The storm verdict from hand-made client records: affected vs healthy clients, split and
// whole rooms, lost sessions, and the request bins.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeStorm, roomSizes, seededRandom } from './analyze.ts';
import type { ClientRecord } from './storm-client.ts';

const T0 = 1_000_000;

function client(
  index: number,
  room: string,
  serverId: string,
  extra: Partial<ClientRecord> = {},
): ClientRecord {
  return {
    index,
    room,
    state: 'joined',
    serverId,
    firstSessionId: `s${index}`,
    sessionId: `s${index}`,
    failovers: [],
    fatal: null,
    brokerSocketLostAt: [],
    ...extra,
  };
}

function movedTo(serverId: string, detectedAfter: number, rejoinedAfter: number) {
  return {
    serverId,
    failovers: [
      {
        from: 'm1',
        to: serverId,
        reason: 'closed',
        lastPongAt: T0 - 500,
        detectedAt: T0 + detectedAfter,
        assignedAt: T0 + detectedAfter + 40,
        rejoinedAt: T0 + rejoinedAfter,
        attempts: 1,
        errors: [],
      },
    ],
  };
}

describe('analyzeStorm', () => {
  const before = [client(0, 'a', 'm1'), client(1, 'a', 'm1'), client(2, 'b', 'm2'), client(3, 'b', 'm2')];

  test('a clean failover: one room moved whole, nothing lost', () => {
    const after = [
      client(0, 'a', 'm3', movedTo('m3', 10, 200)),
      client(1, 'a', 'm3', movedTo('m3', 12, 350)),
      client(2, 'b', 'm2'),
      client(3, 'b', 'm2'),
    ];
    const verdict = analyzeStorm({
      before,
      after,
      victim: 'm1',
      t0: T0,
      requestTimes: [T0 + 50, T0 + 150, T0 + 160],
      horizonMs: 1000,
    });
    assert.equal(verdict.affectedClients, 2);
    assert.equal(verdict.affectedRooms, 1);
    assert.equal(verdict.detectionMs.max, 12);
    assert.deepEqual([verdict.roomRejoinMs.n, verdict.roomRejoinMs.max], [1, 350]);
    assert.deepEqual([verdict.brokerAnswerMs.n, verdict.brokerAnswerMs.max], [2, 52]);
    assert.deepEqual([verdict.afterAnswerMs.n, verdict.afterAnswerMs.max], [2, 298]);
    assert.equal(verdict.lostSessions, 0);
    assert.equal(verdict.splitRooms, 0);
    assert.equal(verdict.falseFailovers, 0);
    assert.deepEqual(verdict.broker.bins.slice(0, 3), [1, 2, 0]);
    assert.equal(verdict.broker.peakPer100ms, 2);
    assert.equal(verdict.broker.noJitterPeakPer100ms, 2);
  });

  test('split rooms, lost sessions and false failovers are counted', () => {
    const after = [
      client(0, 'a', 'm3', movedTo('m3', 10, 200)),
      client(1, 'a', 'm2', { ...movedTo('m2', 10, 300), sessionId: 'new-id' }),
      client(2, 'b', 'm3', { ...movedTo('m3', 2600, 2700) }),
      client(3, 'b', 'm2', { state: 'closed', serverId: null, fatal: 'GAVE_UP' }),
    ];
    const verdict = analyzeStorm({ before, after, victim: 'm1', t0: T0, requestTimes: [], horizonMs: 1000 });
    assert.equal(verdict.splitRooms, 1, 'room b has one joined member left: lost, not split');
    assert.equal(verdict.roomRejoinMs.n, 0, 'a split room is not rejoined');
    assert.equal(verdict.falseFailovers, 1);
    assert.deepEqual(verdict.falseFailoverReasons, { closed: 1 });
    assert.ok(verdict.anomalies.some((anomaly) => anomaly.why === 'false failover' && anomaly.room === 'b'));
    assert.equal(verdict.lostSessions, 2);
    assert.deepEqual(verdict.lostDetail, { notJoined: 1, newPeerId: 1, fatal: { GAVE_UP: 1 } });
    assert.equal(verdict.splitRoomsBefore, 0, 'nothing was split at the failure');
    const split = verdict.anomalies.find((anomaly) => anomaly.why === 'split');
    assert.equal(split?.room, 'a');
    assert.deepEqual(
      split?.members.map((member) => [member.serverBefore, member.serverAfter]),
      [
        ['m1', 'm3'],
        ['m1', 'm2'],
      ],
    );
  });
});

describe('analyzeStorm after a broker kill', () => {
  test('no media server failed: nobody is affected, any failover is false, lost broker sockets are counted', () => {
    const before = [client(0, 'a', 'm1'), client(1, 'a', 'm1'), client(2, 'b', 'm2'), client(3, 'b', 'm2')];
    const after = [
      client(0, 'a', 'm1', { brokerSocketLostAt: [T0 + 3] }),
      client(1, 'a', 'm1', { brokerSocketLostAt: [T0 - 5000] }),
      client(2, 'b', 'm2', { brokerSocketLostAt: [T0 - 5000, T0 + 4] }),
      client(3, 'b', 'm3', movedTo('m3', 900, 1000)),
    ];
    const verdict = analyzeStorm({
      before,
      after,
      victim: 'broker b1',
      t0: T0,
      requestTimes: [],
      horizonMs: 1000,
    });
    assert.equal(verdict.affectedClients, 0);
    assert.equal(verdict.detectionMs.n, 0);
    assert.equal(verdict.brokerSocketsLost, 2, 'a loss before the kill is not the kill');
    assert.equal(verdict.falseFailovers, 1);
    assert.equal(verdict.splitRooms, 1, 'room b on m2 and m3');
    assert.equal(verdict.splitRoomsBefore, 0);
    assert.equal(verdict.lostSessions, 0);
  });
});

describe('roomSizes', () => {
  test('covers every client in rooms of 2–8', () => {
    for (const clients of [2, 3, 9, 60, 2000]) {
      const sizes = roomSizes(clients, seededRandom(clients));
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        clients,
      );
      for (const size of sizes) assert.ok(size >= 2 && size <= 8, `size ${size} of ${clients}`);
    }
  });
});
