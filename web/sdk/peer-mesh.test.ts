// Two or more meshes wired through a fake signaling relay (the media server's role), with a
// fake RTCPeerConnection: the offer rule, ICE restarts after a failover, candidates, leaving.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { SignalData } from '../../shared/protocol/media.ts';
import { PeerMesh } from './peer-mesh.ts';
import { type FakePeerConnection, type FakeRtc, fakeRtc } from './testing/fake-rtc.ts';
import { waitFor } from './testing/ws-server.ts';

interface Node {
  id: string;
  mesh: PeerMesh;
  rtc: FakeRtc;
}

/** Delivers signals between meshes in order, asynchronously; `up` false = server dead (dropped). */
class Relay {
  up = true;
  readonly nodes = new Map<string, Node>();
  readonly log: Array<{ from: string; to: string; data: SignalData }> = [];

  /** `rtcName` prefixes the fake connections' names, which are also their DTLS fingerprints. */
  add(t: TestContext, id: string, goneAfterMs = 10_000, rtcName = id): Node {
    const rtc = fakeRtc(rtcName);
    const mesh = new PeerMesh({
      signal: (to, data) => this.#deliver(id, to, data),
      createPeerConnection: rtc.create,
      goneAfterMs,
    });
    mesh.setSelf(id);
    t.after(() => mesh.close());
    const node = { id, mesh, rtc };
    this.nodes.set(id, node);
    return node;
  }

  #deliver(from: string, to: string, data: SignalData): boolean {
    if (!this.up) return false;
    this.log.push({ from, to, data });
    setImmediate(() => this.nodes.get(to)?.mesh.signal(from, data));
    return true;
  }
}

const info = (peerId: string) => ({ peerId, name: peerId.toUpperCase() });
const pcs = (node: Node) => node.rtc.all;
const only = (node: Node): FakePeerConnection => {
  assert.equal(node.rtc.all.length, 1, `${node.id} has one connection`);
  return node.rtc.all[0]!;
};
const stable = (node: Node) =>
  node.rtc.all.at(-1)?.signalingState === 'stable' && node.rtc.all.at(-1)?.remoteDescription !== null;

/** Both in one room: `first` joins an empty room, `second` joins and finds it. */
async function call(first: Node, second: Node): Promise<void> {
  first.mesh.roomJoined([]);
  second.mesh.roomJoined([info(first.id)]);
  first.mesh.peerJoined(info(second.id));
  await waitFor(() => stable(first) && stable(second), 'negotiation');
}

describe('PeerMesh', () => {
  test('the smaller peer id offers; the other creates its connection on the offer', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    b.mesh.roomJoined([]);
    a.mesh.roomJoined([info('b')]); // a is the offerer and meets b in joined.peers
    assert.equal(pcs(a).length, 1, 'the offerer creates its connection at first contact');
    b.mesh.peerJoined(info('a'));
    assert.equal(pcs(b).length, 0, 'the answerer waits for the offer');
    await waitFor(() => stable(a) && stable(b), 'negotiation');

    assert.deepEqual(only(a).offers, [undefined]);
    assert.deepEqual(only(b).offers, [], 'the answerer never offers (no glare)');
    assert.deepEqual(
      only(a).channels.map((c) => [c.label, c.init]),
      [['usher', { negotiated: true, id: 0 }]],
    );
    assert.deepEqual(
      only(b).channels.map((c) => [c.label, c.init]),
      [['usher', { negotiated: true, id: 0 }]],
    );
    assert.deepEqual(only(a).transceivers, ['audio:recvonly', 'video:recvonly'], 'no media: still receive');
    assert.deepEqual(
      a.mesh.peers().map((p) => [p.peerId, p.name, p.present]),
      [['b', 'B', true]],
    );
    assert.deepEqual(
      b.mesh.peers().map((p) => [p.peerId, p.present]),
      [['a', true]],
    );
    // Trickled candidates reached the other side after its remote description.
    await waitFor(() => only(a).candidates.length > 0 && only(b).candidates.length > 0, 'candidates');
  });

  test('the same rule holds when the larger id is already in the room', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(b, a); // b first; a joins and finds b
    assert.equal(only(a).offers.length, 1);
    assert.equal(only(b).offers.length, 0);
  });

  test('after a failover both sides ICE-restart on their existing connections', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    const ufragA = only(a).transportUfrag;
    const ufragB = only(b).transportUfrag;
    const before = Date.now();

    // The server dies; each rejoins the new one: b first (finds nobody), then a (finds b).
    b.mesh.roomJoined([]);
    assert.equal(b.mesh.peers()[0]?.present, false, 'a is not on the new server yet but kept');
    a.mesh.roomJoined([info('b')]);
    await waitFor(
      () => [a, b].every((n) => n.mesh.iceRestarts().some((r) => r.completedAt !== null)),
      'both restarts to complete',
    );

    assert.equal(pcs(a).length, 1, 'no new connection: same PC, restarted');
    assert.equal(pcs(b).length, 1);
    assert.deepEqual(only(a).offers, [undefined, { iceRestart: true }]);
    assert.notEqual(only(a).transportUfrag, ufragA);
    assert.notEqual(only(b).transportUfrag, ufragB);
    for (const node of [a, b]) {
      const [record] = node.mesh.iceRestarts();
      assert.equal(record!.peerId, node === a ? 'b' : 'a');
      assert.ok(record!.startedAt >= before && record!.completedAt! >= record!.startedAt);
    }
    assert.equal(b.mesh.peers()[0]?.present, true, 'a is back');
  });

  test('peer.joined for a peer we already call (it reconnected) is the offerer’s cue to restart', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    a.mesh.peerJoined(info('b'));
    await waitFor(() => only(a).offers.length === 2 && stable(a) && stable(b), 'restart negotiation');
    assert.deepEqual(only(a).offers[1], { iceRestart: true });
    b.mesh.peerJoined(info('a'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(only(b).offers.length, 0, 'the answerer still only answers');
  });

  test('an offer still unanswered on this server is not doubled: the restart follows its answer', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    b.mesh.roomJoined([]);
    a.mesh.roomJoined([info('b')]);
    a.mesh.peerJoined(info('b')); // same server, offer in flight
    await waitFor(() => only(a).offers.length === 2 && stable(a) && stable(b), 'both negotiations');
    assert.deepEqual(only(a).offers, [undefined, { iceRestart: true }]);
  });

  test('an offer lost with a dead server is replaced by a restart offer on the new one', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    relay.up = false; // the server dies while a restart offer is on its way
    a.mesh.peerJoined(info('b'));
    await waitFor(() => only(a).offers.length === 2, 'the lost offer');
    assert.equal(only(a).signalingState, 'have-local-offer');
    relay.up = true;
    b.mesh.roomJoined([]);
    a.mesh.roomJoined([info('b')]);
    await waitFor(() => only(a).offers.length === 3 && stable(a) && stable(b), 'a fresh restart');
    assert.deepEqual(only(a).offers[2], { iceRestart: true });
  });

  test('candidates that arrive before the remote description wait for it', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    relay.add(t, 'b');
    relay.up = false; // hold b's answer back: a stays in have-local-offer
    a.mesh.roomJoined([info('b')]);
    await waitFor(() => only(a).signalingState === 'have-local-offer', 'the offer');
    const candidate = { candidate: 'candidate:early', sdpMid: '0', sdpMLineIndex: 0 };
    a.mesh.signal('b', { candidate });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(only(a).candidates, [], 'not added without a remote description');
    const answer = `v=0\r\na=ice-ufrag:bx\r\na=fingerprint:sha-256 bx\r\n`;
    a.mesh.signal('b', { description: { type: 'answer', sdp: answer } });
    await waitFor(() => only(a).candidates.length === 1, 'the queued candidate');
    assert.equal(only(a).candidates[0]?.candidate, 'candidate:early');
  });

  test('candidates that arrive before the offer (no connection yet) are kept for it', async (t) => {
    const relay = new Relay();
    const b = relay.add(t, 'b');
    b.mesh.roomJoined([info('a')]);
    const candidate = { candidate: 'candidate:first', sdpMid: '0', sdpMLineIndex: 0 };
    b.mesh.signal('a', { candidate });
    assert.equal(pcs(b).length, 0);
    const offer = `v=0\r\na=ice-ufrag:ax\r\na=fingerprint:sha-256 ax\r\n`;
    b.mesh.signal('a', { description: { type: 'offer', sdp: offer } });
    await waitFor(() => only(b).candidates.length === 1, 'the early candidate');
    assert.equal(only(b).candidates[0]?.candidate, 'candidate:first');
    assert.equal(only(b).signalingState, 'stable');
  });

  test("peer.left 'left' ends the call; 'disconnected' keeps it", async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    const c = relay.add(t, 'c');
    await call(a, b);
    c.mesh.roomJoined([info('a'), info('b')]);
    a.mesh.peerJoined(info('c'));
    b.mesh.peerJoined(info('c'));
    await waitFor(
      () => c.rtc.all.length === 2 && c.rtc.all.every((pc) => pc.signalingState === 'stable'),
      'c',
    );

    a.mesh.peerLeft('b', 'disconnected');
    assert.deepEqual(
      a.mesh.peers().map((p) => [p.peerId, p.present]),
      [
        ['b', false],
        ['c', true],
      ],
    );
    assert.equal(pcs(a)[0]?.signalingState, 'stable', 'media may still flow: connection kept');
    a.mesh.peerLeft('c', 'left');
    assert.deepEqual(
      a.mesh.peers().map((p) => p.peerId),
      ['b'],
    );
    assert.equal(pcs(a)[1]?.signalingState, 'closed');
  });

  test('an absent peer whose ICE stays failed is dropped after goneAfterMs; one that returns is kept', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a', 60);
    const b = relay.add(t, 'b');
    const c = relay.add(t, 'c');
    await call(a, b);
    c.mesh.roomJoined([info('a')]);
    a.mesh.peerJoined(info('c'));
    await waitFor(() => a.rtc.all.length === 2 && stable(a), 'a–c call');

    a.mesh.peerLeft('b', 'disconnected');
    a.mesh.peerLeft('c', 'disconnected');
    a.rtc.all[0]!.setIce('failed');
    a.rtc.all[1]!.setIce('failed');
    a.mesh.peerJoined(info('c')); // c comes back in time
    await waitFor(() => a.mesh.peers().length === 1, 'b to be dropped');
    assert.deepEqual(
      a.mesh.peers().map((p) => p.peerId),
      ['c'],
    );
    assert.equal(a.rtc.all[0]!.signalingState, 'closed');
  });

  test('a fresh connection on the other side (new DTLS fingerprint) is met with a fresh one here', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    // b lost its connection to a (dropped it) and comes back with none; a still has its own.
    b.mesh.close();
    relay.nodes.delete('b');
    const b2 = relay.add(t, 'b', 10_000, 'b-new');
    b2.mesh.roomJoined([info('a')]);
    a.mesh.peerJoined(info('b'));
    await waitFor(
      () => pcs(a).length === 2 && stable(a) && stable(b2) && pcs(b2).length === 2,
      'both sides on fresh connections',
    );
    assert.equal(pcs(a)[0]!.signalingState, 'closed');
    assert.deepEqual(pcs(a)[1]!.offers, [undefined], 'a plain offer on the new connection');
    assert.equal(
      pcs(a)[1]!.remoteDescription?.sdp.includes(pcs(b2)[1]!.fingerprint),
      true,
      'a talks to b’s newest connection',
    );
  });

  test('broadcast goes to every open data channel; stats are per peer', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    assert.equal(a.mesh.broadcast('{"kind":"chat"}'), 1);
    assert.deepEqual(only(a).channels[0]?.sent, ['{"kind":"chat"}']);
    const stats = await a.mesh.stats();
    assert.deepEqual(stats, {
      b: {
        bytesReceived: 1200,
        framesDecoded: 30,
        packetsReceived: 140,
        packetsLost: 2,
        bytesSent: 800,
        rttMs: 12,
        iceState: 'connected',
        connectionState: 'connected',
        localUfrag: only(a).transportUfrag,
        selectedPair: {
          local: { type: 'host', address: '127.0.0.1', port: 50001, protocol: 'udp' },
          remote: { type: 'host', address: '127.0.0.1', port: 50002, protocol: 'udp' },
        },
      },
    });
  });

  test('iceTransportPolicy goes into every connection and survives new ICE servers', async (t) => {
    const rtc = fakeRtc('r');
    const turn1 = { urls: 'turn:127.0.0.1:3478?transport=udp', username: '1:a', credential: 'x' };
    const turn2 = { urls: 'turn:127.0.0.1:3478?transport=udp', username: '2:a', credential: 'y' };
    const mesh = new PeerMesh({
      signal: () => true,
      createPeerConnection: rtc.create,
      iceServers: [turn1],
      iceTransportPolicy: 'relay',
    });
    t.after(() => mesh.close());
    mesh.setSelf('a');
    mesh.roomJoined([info('b'), info('c')]);
    assert.equal(rtc.all.length, 2);
    for (const pc of rtc.all)
      assert.deepEqual(pc.config, { iceServers: [turn1], iceTransportPolicy: 'relay' });
    mesh.setIceServers([turn2]);
    for (const pc of rtc.all)
      assert.deepEqual(pc.config, { iceServers: [turn2], iceTransportPolicy: 'relay' });
    mesh.peerJoined(info('d'));
    assert.deepEqual(rtc.all[2]?.config, { iceServers: [turn2], iceTransportPolicy: 'relay' });
  });

  test('stats report the selected candidate pair (relay under a relay-only policy)', async (t) => {
    const rtc = fakeRtc('r');
    const mesh = new PeerMesh({
      signal: () => true,
      createPeerConnection: rtc.create,
      iceTransportPolicy: 'relay',
    });
    t.after(() => mesh.close());
    mesh.setSelf('a');
    mesh.roomJoined([info('b')]);
    assert.equal((await mesh.stats()).b?.selectedPair, null, 'no pair before ICE has one');
    rtc.all[0]!.transportUfrag = 'u1';
    assert.deepEqual((await mesh.stats()).b?.selectedPair, {
      local: { type: 'relay', address: '127.0.0.1', port: 50001, protocol: 'udp' },
      remote: { type: 'relay', address: '127.0.0.1', port: 50002, protocol: 'udp' },
    });
  });

  test('a new own peer id (the broker forgot the session) starts every call over', async (t) => {
    const relay = new Relay();
    const a = relay.add(t, 'a');
    const b = relay.add(t, 'b');
    await call(a, b);
    a.mesh.setSelf('a2');
    assert.deepEqual(a.mesh.peers(), []);
    assert.equal(only(a).signalingState, 'closed');
  });
});
