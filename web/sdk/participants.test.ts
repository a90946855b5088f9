// The per-peer view: participants from the mesh's peer list (one per peer, however many tracks),
// mute state from peers' control messages, connection quality from two getStats() samples.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CONTROL_KEY,
  controlMessage,
  muteMessage,
  type Participant,
  ParticipantRoster,
  qualityLevel,
} from './participants.ts';
import type { PeerSummary } from './peer-mesh.ts';
import { EMPTY_STATS } from './peer-stats.ts';

function peer(peerId: string, change: Partial<PeerSummary> = {}): PeerSummary {
  return {
    peerId,
    name: peerId.toUpperCase(),
    present: true,
    stream: null,
    connectionState: 'connecting',
    iceState: 'checking',
    dataOpen: false,
    ...change,
  };
}

function recorder(roster: ParticipantRoster) {
  const events: string[] = [];
  roster.on('participant-joined', (p) => events.push(`joined ${p.id}`));
  roster.on('participant-left', (p) => events.push(`left ${p.id}`));
  roster.on('participant-updated', (p) => events.push(`updated ${p.id}`));
  return events;
}

describe('ParticipantRoster', () => {
  test('one participant per peer: joined once, updated on change (not per track), left when gone', () => {
    const roster = new ParticipantRoster();
    const events = recorder(roster);
    roster.fromPeers([peer('a'), peer('b')]);
    const stream = { id: 'stream-a' } as unknown as MediaStream;
    // Two tracks of one peer arrive as two peer-list changes with the same stream.
    roster.fromPeers([peer('a', { stream, connectionState: 'connected' }), peer('b')]);
    roster.fromPeers([peer('a', { stream, connectionState: 'connected' }), peer('b')]);
    roster.fromPeers([peer('a', { stream, connectionState: 'connected' })]);
    assert.deepEqual(events, ['joined a', 'joined b', 'updated a', 'left b']);
    assert.equal(roster.list().length, 1);
    assert.equal(roster.get('a')?.stream, stream);
    assert.equal(roster.get('a')?.name, 'A');
  });

  test('snapshots are immutable: an update is a new object, the old one unchanged', () => {
    const roster = new ParticipantRoster();
    roster.fromPeers([peer('a')]);
    const before = roster.get('a')!;
    roster.setMute('a', { audio: true, video: false });
    const after = roster.get('a')!;
    assert.notEqual(before, after);
    assert.deepEqual([before.audioMuted, after.audioMuted, after.videoMuted], [false, true, false]);
    roster.setMute('nobody', { audio: true, video: true });
    assert.equal(roster.list().length, 1);
  });

  test('quality: rtt, loss and bitrates from the difference of two samples', () => {
    const roster = new ParticipantRoster();
    const updates: Participant[] = [];
    roster.on('participant-updated', (p) => updates.push(p));
    roster.fromPeers([peer('a')]);
    const base = { ...EMPTY_STATS, rttMs: 40 };
    roster.sampled({ a: { ...base, bytesReceived: 1000, bytesSent: 500, packetsReceived: 100 } }, 10_000);
    assert.deepEqual(roster.get('a')?.quality, {
      rttMs: 40,
      packetLoss: null,
      bitrateIn: null,
      bitrateOut: null,
      level: 'good',
      sampledAt: 10_000,
    });
    roster.sampled(
      {
        a: { ...base, bytesReceived: 251_000, bytesSent: 125_500, packetsReceived: 290, packetsLost: 10 },
        gone: { ...base },
      },
      12_000,
    );
    const quality = roster.get('a')?.quality;
    assert.equal(quality?.bitrateIn, 1_000_000);
    assert.equal(quality?.bitrateOut, 500_000);
    assert.equal(quality?.packetLoss, 0.05);
    assert.equal(quality?.level, 'fair');
    assert.equal(updates.length, 2);
    // A replaced connection starts its counters again: no rate from a negative difference.
    roster.sampled({ a: { ...base, bytesReceived: 10, packetsReceived: 1 } }, 14_000);
    assert.equal(roster.get('a')?.quality?.bitrateIn, null);
  });

  test('quality levels', () => {
    assert.equal(qualityLevel(null, null), 'unknown');
    assert.equal(qualityLevel(50, 0), 'good');
    assert.equal(qualityLevel(300, 0.01), 'fair');
    assert.equal(qualityLevel(50, 0.2), 'poor');
    assert.equal(qualityLevel(900, null), 'poor');
  });

  test('clear reports every participant as left', () => {
    const roster = new ParticipantRoster();
    roster.fromPeers([peer('a'), peer('b')]);
    const events = recorder(roster);
    roster.clear();
    assert.deepEqual(events, ['left a', 'left b']);
    assert.equal(roster.list().length, 0);
  });
});

describe('control messages', () => {
  test('mute messages round-trip; app messages and malformed ones are told apart', () => {
    const wire = JSON.parse(muteMessage({ audio: true, video: false })) as unknown;
    assert.deepEqual(controlMessage(wire), { [CONTROL_KEY]: 'mute', audio: true, video: false });
    assert.equal(controlMessage({ chat: 'hi' }), null);
    assert.equal(controlMessage([1]), null);
    assert.equal(controlMessage('text'), null);
    // A control kind from a newer SDK, or a mute without its fields: control, but not a mute.
    assert.deepEqual(controlMessage({ [CONTROL_KEY]: 'raise-hand' }), { [CONTROL_KEY]: 'raise-hand' });
    assert.deepEqual(controlMessage({ [CONTROL_KEY]: 'mute', audio: 'yes' }), { [CONTROL_KEY]: 'mute' });
  });
});
