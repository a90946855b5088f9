// Browser end-to-end through a real coturn: two relay-only pages (`?relay=1`) connect with
// the TURN credentials the broker signs, media runs relay↔relay, and after a SIGKILL of the
// room's server the ICE restart lands on relay again with the new session reply's credentials.
import { failOver, joinPair, ownPeerId, type Pair } from './fixtures/call-checks.ts';
import { type Coturn, expect, test } from './fixtures/coturn.ts';
import type { Assignment, Participant, Snapshot } from './fixtures/participants.ts';

test.use({ joinQuery: { relay: '1' } });

/** The TURN entry of a broker reply: our coturn's URL with a REST-API username for `peerId`. */
function turnEntry(coturn: Coturn, assignment: Assignment, peerId: string) {
  const turn = assignment.iceServers.find((server) => [server.urls].flat().includes(coturn.url('udp')));
  expect(
    turn,
    `the broker's reply lists ${coturn.url('udp')}: ${JSON.stringify(assignment.iceServers)}`,
  ).toBeDefined();
  const username = turn!.username ?? '';
  const match = /^(\d+):(.+)$/.exec(username);
  expect(match, `REST-API username "<expiry>:<user>": ${username}`).not.toBeNull();
  expect(match![2], 'the TURN user is the session').toBe(peerId);
  expect(turn!.credential, 'HMAC-SHA1 of the username with coturn’s secret').toBe(
    coturn.credentialFor(username),
  );
  return { username, expiresAt: Number(match![1]) * 1000 };
}

/** Both pages' selected pairs are relay↔relay, through this coturn's relay ports. */
async function expectRelayed(pair: Pair, coturn: Coturn, when: string): Promise<void> {
  for (const [p, peer] of [
    [pair.a, pair.peerOfA],
    [pair.b, pair.peerOfB],
  ] as const) {
    await expect
      .poll(async () => (await p.selectedCandidateTypes())[peer] ?? null, {
        message: `${p.name} (${when}): the selected candidate pair with ${peer} is relay↔relay`,
      })
      .toEqual({ local: 'relay', remote: 'relay' });
    const selected = (await p.snapshot()).stats[peer]?.selectedPair;
    for (const side of ['local', 'remote'] as const) {
      const candidate = selected?.[side];
      expect(candidate?.address, `${p.name} ${side} relay address`).toBe(coturn.host);
      expect(candidate?.port, `${p.name} ${side} relay port in coturn's range`).toBeGreaterThanOrEqual(
        coturn.relayPorts.min,
      );
      expect(candidate?.port).toBeLessThanOrEqual(coturn.relayPorts.max);
    }
  }
}

/** ms from the page's RTCPeerConnection being created to its ICE first being connected. */
async function connectMs(p: Participant): Promise<number> {
  const [pc] = await p.peerConnections();
  const connected = pc?.ice.find((change) => change.state === 'connected' || change.state === 'completed');
  expect(connected, `${p.name}: ICE connected (${JSON.stringify(pc?.ice)})`).toBeDefined();
  return connected!.at - pc!.createdAt;
}

/** coturn (-v) logs `user <NAME>: incoming packet ALLOCATE processed, success` per allocation.
 *  Polled: until then the last error lines are the answer, so a refusal shows why. */
async function expectAllocated(coturn: Coturn, username: string): Promise<void> {
  await expect
    .poll(
      () => {
        const allocated = coturn.lines.some(
          (line) => line.includes(`user <${username}>`) && line.includes('ALLOCATE processed, success'),
        );
        if (allocated) return 'allocated';
        // (A 401 without a user is the normal first challenge; other errors explain a refusal.)
        const errors = coturn.lines.filter((line) => / error \d+/.test(line) && !line.includes('user <>'));
        return errors.slice(-5).join('\n') || 'no allocation yet';
      },
      { message: `coturn accepted ${username} (ALLOCATE success in its log)` },
    )
    .toBe('allocated');
}

function relayedEverywhere(samples: readonly Snapshot[], peer: string): { checked: number; other: string[] } {
  const other: string[] = [];
  let checked = 0;
  for (const sample of samples) {
    const selected = sample.stats[peer]?.selectedPair;
    if (selected === null || selected === undefined) continue;
    checked += 1;
    if (selected.local.type !== 'relay' || selected.remote.type !== 'relay') {
      other.push(`${sample.at}: ${selected.local.type}↔${selected.remote.type}`);
    }
  }
  return { checked, other };
}

test.describe('TURN relay through a real coturn', () => {
  test('relay-only pages connect with the broker’s credentials; after SIGKILL the ICE restart is relayed again', async ({
    join,
    stack,
    coturn,
  }, testInfo) => {
    const firstCredentials = new Map<Participant, { username: string; expiresAt: number }>();
    // Before the media checks: a refused credential should fail here, with coturn's own words.
    const pair = await joinPair(join, async ({ a, b }) => {
      for (const p of [a, b]) {
        expect(p.assignments, `${p.name}: one broker reply so far`).toHaveLength(1);
        const entry = turnEntry(coturn, p.assignments[0]!, await ownPeerId(p));
        expect(entry.expiresAt, 'credentials expire in the future').toBeGreaterThan(Date.now());
        firstCredentials.set(p, entry);
        const pcs = await p.peerConnections();
        expect(pcs, `${p.name}: one peer connection`).toHaveLength(1);
        expect(pcs[0]!.iceTransportPolicy, `${p.name}: the SDK passed the policy on`).toBe('relay');
        expect(pcs[0]!.turnUsernames).toEqual([entry.username]);
        await expectAllocated(coturn, entry.username);
      }
    });
    const { a, b } = pair;
    const members = [
      [a, pair.peerOfA],
      [b, pair.peerOfB],
    ] as const;
    await expectRelayed(pair, coturn, 'first call');
    const connect = { a: await connectMs(a), b: await connectMs(b) };

    // REST-API usernames carry an expiry in whole seconds: let one tick so that the reply to
    // the failover's request necessarily carries a different (fresh) username.
    const issuedSecond = Math.max(...[a, b].map((p) => Math.floor(p.assignments[0]!.at / 1000)));
    await expect
      .poll(() => Math.floor(Date.now() / 1000), { message: 'a new second' })
      .toBeGreaterThan(issuedSecond);

    const result = await failOver(stack, pair, 'SIGKILL', testInfo, 'turn-sigkill');

    // Still relay↔relay after the restart, and at every sample taken through the failover.
    await expectRelayed(pair, coturn, 'after the failover');
    for (const [p, peer] of members) {
      const { checked, other } = relayedEverywhere(result.samples.get(p) ?? [], peer);
      expect(checked, `${p.name}: samples with a selected pair during the failover`).toBeGreaterThan(0);
      expect(other, `${p.name}: never a non-relay pair during the failover`).toEqual([]);
    }

    // The restart ran on the new reply's credentials, on the same connection, and coturn took them.
    for (const p of [a, b]) {
      expect(p.assignments.length, `${p.name}: a second broker reply`).toBeGreaterThanOrEqual(2);
      const latest = p.assignments.at(-1)!;
      expect(latest.serverId).toBe(result.serverId);
      const fresh = turnEntry(coturn, latest, await ownPeerId(p));
      const first = firstCredentials.get(p)!;
      expect(fresh.username, `${p.name}: fresh TURN credentials`).not.toBe(first.username);
      expect(fresh.expiresAt).toBeGreaterThan(first.expiresAt);
      const pcs = await p.peerConnections();
      expect(pcs, `${p.name}: the same peer connection, restarted`).toHaveLength(1);
      expect(pcs[0]!.iceTransportPolicy).toBe('relay');
      expect(pcs[0]!.turnUsernames, `${p.name}: the connection now holds the new credentials`).toEqual([
        fresh.username,
      ]);
      await expectAllocated(coturn, fresh.username);
    }

    const line = `FIGURES turn-connect pc→ICE connected over relay: alice=${connect.a}ms bob=${connect.b}ms`;
    testInfo.annotations.push({ type: 'FIGURES', description: line });
    console.log(line);
  });
});
