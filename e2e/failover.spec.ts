// Browser end-to-end: two pages in one room on a real broker + 3 media server processes;
// a media server is SIGKILLed or SIGSTOPped and the whole room must move to ONE new
// server, ICE-restart and keep its media — measured, not assumed.
import {
  expectDataChannel,
  expectMediaFlowing,
  expectPeers,
  failOver,
  joinedServerId,
  joinPair,
  ownPeerId,
  RECOVERY_TIMEOUT_MS,
} from './fixtures/call-checks.ts';
import { expect, test } from './fixtures/participants.ts';

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
    const { serverId: newServer } = await failOver(stack, pair, 'SIGKILL', testInfo, null);

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
    const { serverId: newServer } = await failOver(stack, pair, 'SIGSTOP', testInfo, null);

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
