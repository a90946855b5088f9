// Browser end-to-end: two pages in one room on a real broker + 3 media server processes;
// a media server is SIGKILLed or SIGSTOPped and the whole room must move to ONE new
// server, ICE-restart and keep its media — measured, not assumed.
import type { TestInfo } from '@playwright/test';
import {
  type FailoverFigures,
  failoverFigures,
  formatFigures,
  MediaSampler,
} from './fixtures/media-sampler.ts';
import { expect, type Participant, test } from './fixtures/participants.ts';
import type { Stack } from './fixtures/stack.ts';

// The client's ping defaults (the broker is started without ping flags, so these apply).
const PING_INTERVAL_MS = 1000;
const PING_TIMEOUT_MS = 2500;
/** Scheduling slack on a loaded 2-core CI machine. These bounds catch a wrong detection
 *  path (e.g. a 10 s join timeout instead of the ping timeout); the timing figures
 *  themselves are measured by `usher bench` (storm), not asserted here. */
const SLACK_MS = 2500;
/** A dead server must be noticed within the ping timeout plus one ping period. */
const DETECT_BOUND_MS = PING_TIMEOUT_MS + PING_INTERVAL_MS + SLACK_MS;
/** From the kill to media flowing on restarted ICE: detection + backoff + rejoin + restart. */
const RECOVERY_TIMEOUT_MS = 20_000;
/** Short enough to get several samples inside a SIGKILL outage (a few hundred ms). */
const SAMPLE_PERIOD_MS = 50;

interface Pair {
  a: Participant;
  b: Participant;
  serverId: string;
  /** b's peer id as a sees it, and a's as b sees it. */
  peerOfA: string;
  peerOfB: string;
}

async function joinedServerId(p: Participant): Promise<string> {
  await expect(p.testId('status-state')).toHaveText('joined');
  const id = (await p.testId('status-server-id').textContent())?.trim() ?? '';
  expect(id, `${p.name} shows a server id`).not.toBe('');
  expect(await p.serverId(), `${p.name}: window.__usher.serverId() agrees with the page`).toBe(id);
  return id;
}

/** The page's own peer (session) id, as its status panel shows it. */
async function ownPeerId(p: Participant): Promise<string> {
  const id = (await p.testId('status-peer-id').textContent())?.trim() ?? '';
  expect(id, `${p.name} shows its own peer id`).toMatch(/^[A-Za-z0-9_-]+$/);
  return id;
}

/** Waits until `p` sees exactly `others` (by their own ids) and shows a tile for each. */
async function expectPeers(p: Participant, others: Participant[]): Promise<void> {
  const wanted = (await Promise.all(others.map(ownPeerId))).sort();
  await expect
    .poll(async () => (await p.peerIds()).sort(), { message: `${p.name} sees ${others.map((o) => o.name)}` })
    .toEqual(wanted);
  for (const id of wanted) await expect(p.peerTile(id)).toBeVisible();
}

async function expectMediaFlowing(p: Participant, peerId: string): Promise<void> {
  const before = (await p.snapshot()).stats[peerId];
  const base = { bytes: before?.bytesReceived ?? 0, frames: before?.framesDecoded ?? 0 };
  await expect
    .poll(
      async () => {
        const now = (await p.snapshot()).stats[peerId];
        return {
          bytesGrew: (now?.bytesReceived ?? 0) > base.bytes,
          framesGrew: (now?.framesDecoded ?? 0) > base.frames,
        };
      },
      { message: `${p.name} receives media from ${peerId}` },
    )
    .toEqual({ bytesGrew: true, framesGrew: true });
}

async function expectDataChannel(from: Participant, to: Participant, text: string): Promise<void> {
  await from.sendData(text);
  await expect
    .poll(() => to.received(), { message: `${to.name} gets "${text}" over the data channel` })
    .toContain(text);
}

async function joinPair(join: (name: string) => Promise<Participant>): Promise<Pair> {
  const [a, b] = await Promise.all([join('alice'), join('bob')]);
  const serverId = await joinedServerId(a);
  expect(await joinedServerId(b), 'both members of the room are on the same server').toBe(serverId);
  await Promise.all([expectPeers(a, [b]), expectPeers(b, [a])]);
  const [peerOfA, peerOfB] = await Promise.all([ownPeerId(b), ownPeerId(a)]);
  await Promise.all([expectMediaFlowing(a, peerOfA), expectMediaFlowing(b, peerOfB)]);
  await expectDataChannel(a, b, `hello from alice ${Date.now()}`);
  await expectDataChannel(b, a, `hello from bob ${Date.now()}`);
  return { a, b, serverId, peerOfA, peerOfB };
}

/** Kill the room's server with `sig` and check the whole failover; returns the new server id.
 *  With a `figures` label, prints the measured times as one `FIGURES <label> …` line. */
async function failOver(
  stack: Stack,
  pair: Pair,
  sig: 'SIGKILL' | 'SIGSTOP',
  testInfo: TestInfo,
  figures: string | null,
): Promise<string> {
  const { a, b, serverId: killed } = pair;
  const members: Array<[Participant, string]> = [
    [a, pair.peerOfA],
    [b, pair.peerOfB],
  ];
  const ufragBefore = new Map<Participant, string | null>();
  for (const [p, peer] of members) {
    const ufrag = (await p.snapshot()).stats[peer]?.localUfrag ?? null;
    expect(ufrag, `${p.name}: the transport has ICE credentials before the kill`).not.toBeNull();
    ufragBefore.set(p, ufrag);
  }

  const sampler = new MediaSampler([a, b], SAMPLE_PERIOD_MS);
  sampler.start();
  const killAt = stack.kill(killed, sig);
  let newServer = '';
  try {
    for (const [p] of members) {
      await expect
        .poll(async () => (await p.snapshot()).failovers.length, {
          message: `${p.name} records a failover`,
          timeout: RECOVERY_TIMEOUT_MS,
        })
        .toBeGreaterThan(0);
    }
    for (const [p] of members) {
      await expect(p.testId('failover-banner')).toContainText('Moved to', { timeout: RECOVERY_TIMEOUT_MS });
      await expect(p.testId('status-state')).toHaveText('joined');
    }
    newServer = await joinedServerId(a);
    expect(newServer, 'the room left the dead server').not.toBe(killed);
    expect(stack.media.has(newServer), `${newServer} is one of this stack's servers`).toBe(true);
    expect(await joinedServerId(b), 'both members moved to ONE common server').toBe(newServer);
    for (const p of [a, b]) {
      await expect(p.testId('failover-banner')).toContainText(`Moved to ${newServer}`);
      await expect(p.testId('status-server-url')).toHaveText(stack.media.get(newServer)!.url);
    }

    for (const [p, peer] of members) {
      const { failovers } = await p.snapshot();
      expect(failovers, `${p.name}: exactly one failover`).toHaveLength(1);
      const [record] = failovers;
      expect(record!.from).toBe(killed);
      expect(record!.to).toBe(newServer);
      // A killed process's socket is closed by the kernel; a frozen one's stays open.
      expect(record!.reason, `${p.name}: failover reason`).toBe(
        sig === 'SIGKILL' ? 'closed' : 'ping-timeout',
      );
      expect(record!.detectedAt, 'detected after the kill, not before').toBeGreaterThanOrEqual(killAt);
      expect(
        record!.detectedAt - killAt,
        `${p.name} detects within ping timeout + period`,
      ).toBeLessThanOrEqual(DETECT_BOUND_MS);
      if (sig === 'SIGSTOP') {
        // Nothing closes a frozen server's socket: detection must be the ping timeout running
        // out after the last pong (lostAt) — not earlier, and not much later.
        const silence = record!.detectedAt - record!.lostAt;
        expect(
          silence,
          `${p.name}: waited the whole ping timeout after the last pong`,
        ).toBeGreaterThanOrEqual(PING_TIMEOUT_MS);
        expect(silence).toBeLessThanOrEqual(PING_TIMEOUT_MS + SLACK_MS);
      }
      expect(record!.rejoinedAt).toBeGreaterThanOrEqual(record!.detectedAt);
      expect(await p.peerIds(), `${p.name} keeps the same peer across the failover`).toEqual([peer]);
      await expect(p.peerTile(peer)).toBeVisible();

      await expect
        .poll(
          async () =>
            (await p.snapshot()).iceRestarts.some(
              (r) => r.peerId === peer && r.startedAt >= killAt && r.completedAt !== null,
            ),
          { message: `${p.name}: ICE restart with ${peer} completed`, timeout: RECOVERY_TIMEOUT_MS },
        )
        .toBe(true);
      await expect
        .poll(async () => (await p.snapshot()).stats[peer]?.localUfrag ?? null, {
          message: `${p.name}: the transport runs on new ICE credentials`,
        })
        .not.toBe(ufragBefore.get(p));
    }

    // Media flowing again on the restarted ICE: the sampler's samples are the evidence.
    for (const [p, peer] of members) {
      await expect
        .poll(() => figuresOf(sampler, p, peer, killAt).mediaMs, {
          message: `${p.name}: media from ${peer} grows after the ICE restart (sampler: ${String(sampler.error() ?? 'ok')})`,
          timeout: RECOVERY_TIMEOUT_MS,
        })
        .not.toBeNull();
    }

    // The UI showed the outage: a reconnecting state and banner, then joined again.
    for (const [p] of members) {
      const changes = (await p.uiChanges()).filter((c) => c.at >= killAt);
      const states = changes.filter((c) => c.testId === 'status-state').map((c) => c.text?.trim());
      const banners = changes.filter((c) => c.testId === 'failover-banner').map((c) => c.text ?? '');
      expect(states, `${p.name}: status went through reconnecting back to joined`).toContain('reconnecting');
      expect(states.lastIndexOf('joined'), `${p.name}: ${JSON.stringify(states)}`).toBeGreaterThan(
        states.indexOf('reconnecting'),
      );
      expect(
        banners.some((text) => text.includes('Reconnecting')),
        `${p.name}: banner said Reconnecting… (${JSON.stringify(banners)})`,
      ).toBe(true);
    }

    // The broker drops the dead server too (heartbeat timeout) and gives it no new sessions.
    await expect.poll(async () => (await stack.health()).servers, { timeout: RECOVERY_TIMEOUT_MS }).toBe(2);
  } finally {
    await sampler.stop();
  }

  const perPage: Array<[string, FailoverFigures]> = members.map(([p, peer]) => [
    p.name,
    figuresOf(sampler, p, peer, killAt),
  ]);
  const line = formatFigures(figures ?? sig.toLowerCase(), perPage);
  testInfo.annotations.push({ type: 'FIGURES', description: line });
  if (figures !== null) console.log(line);
  // Design claim: P2P media keeps flowing through the signaling outage where the network
  // allows (loopback does). null = window too short to tell, which is not a failure.
  for (const [name, f] of perPage) {
    expect(f.flowedDuringOutage, `${name}: media kept flowing during the outage — ${line}`).not.toBe(false);
  }

  // Data still goes both ways after the move.
  await expectDataChannel(a, b, `after failover from alice ${Date.now()}`);
  await expectDataChannel(b, a, `after failover from bob ${Date.now()}`);
  return newServer;
}

function figuresOf(sampler: MediaSampler, p: Participant, peer: string, killAt: number): FailoverFigures {
  const samples = sampler.of(p);
  const latest = samples.at(-1);
  const failover = latest?.failovers[0];
  if (latest === undefined || failover === undefined) {
    return {
      detectMs: Number.NaN,
      rejoinMs: Number.NaN,
      restartMs: null,
      mediaMs: null,
      flowedDuringOutage: null,
      outageWindow: 'kill→rejoin',
      outageSamples: 0,
    };
  }
  const restart = latest.iceRestarts.find(
    (r) => r.peerId === peer && r.startedAt >= killAt && r.completedAt !== null,
  );
  return failoverFigures(samples, killAt, peer, failover, restart?.completedAt ?? null);
}

test.describe('failover between media servers', () => {
  test('two pages join one room on one server, with media and data', async ({ join, stack }) => {
    const { a, b, serverId } = await joinPair(join);
    const server = stack.media.get(serverId);
    expect(server, `${serverId} is one of this stack's servers`).toBeDefined();
    for (const p of [a, b]) {
      // The broker handed out the server's real address, and the page talks to it directly.
      await expect(p.testId('status-server-url')).toHaveText(server!.url);
      await expect(p.testId('status-address'), 'the broker reports the address it saw').toContainText(
        '127.0.0.1',
      );
      await expect(p.testId('status-rtt'), 'pings are answered').toHaveText(/^\d+ ms$/);
    }
    expect(await stack.health()).toMatchObject({ status: 'ok', servers: 3 });
  });

  test('SIGKILL of the room server: the room moves to one new server and media flows again', async ({
    join,
    stack,
  }, testInfo) => {
    const pair = await joinPair(join);
    await failOver(stack, pair, 'SIGKILL', testInfo, 'sigkill');
  });

  test('SIGSTOP (frozen, socket open): pings catch it and the room moves', async ({
    join,
    stack,
  }, testInfo) => {
    const pair = await joinPair(join);
    await failOver(stack, pair, 'SIGSTOP', testInfo, 'sigstop');
  });

  test('a newcomer after the failover lands on the same new server', async ({ join, stack }, testInfo) => {
    const pair = await joinPair(join);
    const newServer = await failOver(stack, pair, 'SIGKILL', testInfo, null);

    const carol = await join('carol');
    expect(await joinedServerId(carol), 'the newcomer follows the room to its new server').toBe(newServer);
    expect((await carol.snapshot()).failovers, 'the newcomer never saw the dead server').toEqual([]);
    await Promise.all([
      expectPeers(carol, [pair.a, pair.b]),
      expectPeers(pair.a, [pair.b, carol]),
      expectPeers(pair.b, [pair.a, carol]),
    ]);
    const carolId = await ownPeerId(carol);
    await Promise.all([
      expectMediaFlowing(carol, pair.peerOfB), // alice's id
      expectMediaFlowing(carol, pair.peerOfA), // bob's id
      expectMediaFlowing(pair.a, carolId),
      expectMediaFlowing(pair.b, carolId),
    ]);
    await expectDataChannel(carol, pair.a, `hi from carol ${Date.now()}`);
    await expectDataChannel(pair.b, carol, `hi carol from bob ${Date.now()}`);
  });

  test('a frozen server that thaws does not take the room back', async ({ join, stack }, testInfo) => {
    const pair = await joinPair(join);
    const frozen = pair.serverId;
    const newServer = await failOver(stack, pair, 'SIGSTOP', testInfo, null);

    // The thawed server still believes it hosts the room's old sessions; the room must stay put.
    stack.kill(frozen, 'SIGCONT');
    await expect
      .poll(async () => (await stack.health()).servers, { message: `${frozen} registers again` })
      .toBe(3);
    const carol = await join('carol');
    expect(await joinedServerId(carol), 'the newcomer joins the room where its members are').toBe(newServer);
    await Promise.all([expectPeers(carol, [pair.a, pair.b]), expectPeers(pair.a, [pair.b, carol])]);
    for (const p of [pair.a, pair.b]) {
      expect(await joinedServerId(p), `${p.name} stayed on ${newServer}`).toBe(newServer);
      expect((await p.snapshot()).failovers, `${p.name}: no second failover`).toHaveLength(1);
    }
    await expectDataChannel(carol, pair.b, `hi from carol ${Date.now()}`);
  });

  test('a newcomer arriving while the server is frozen ends up with the room', async ({ join, stack }) => {
    const pair = await joinPair(join);
    const frozen = pair.serverId;
    stack.kill(frozen, 'SIGSTOP');
    // Before anyone has noticed: the broker may still send carol to the frozen server, so she
    // must find out on her own and still end up where the room went.
    const carol = await join('carol');
    const everyone = [pair.a, pair.b, carol];
    await expect
      .poll(
        async () => {
          const views = await Promise.all(
            everyone.map(async (p) => {
              const snapshot = await p.snapshot();
              return `${p.name}:${snapshot.state}@${snapshot.serverId}`;
            }),
          );
          const servers = new Set(views.map((v) => v.split('@')[1]));
          const converged =
            views.every((v) => v.includes(':joined@')) && servers.size === 1 && !servers.has(frozen);
          return converged ? 'one common live server' : views.join(' ');
        },
        { message: 'all three joined on one server other than the frozen one', timeout: RECOVERY_TIMEOUT_MS },
      )
      .toBe('one common live server');
    await Promise.all([
      expectPeers(carol, [pair.a, pair.b]),
      expectPeers(pair.a, [pair.b, carol]),
      expectPeers(pair.b, [pair.a, carol]),
    ]);
    await expectMediaFlowing(carol, pair.peerOfB);
    await expectDataChannel(carol, pair.a, `hi from carol ${Date.now()}`);
  });
});
