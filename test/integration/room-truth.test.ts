// One room, one server (issue #11): real `usher broker` / `usher media` processes, a
// test-started redis-server and SDK sessions as members; after a broker restart, a restart
// behind a front, Redis lost or frozen, a pin moved away from a live room and concurrent new
// rooms, every sampled moment has each room's joined members on one server, and the broker's
// metrics say what it moved and repaired.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { startRedis } from '../../server/broker/testing/redis-server.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import {
  adminGet,
  type BrokerProcess,
  brokerTruth,
  httpStatus,
  type Member,
  NewcomerStream,
  newMember,
  pinnedRooms,
  placement,
  registeredServers,
  SplitSampler,
  splitRooms,
  startBroker,
  startFront,
  startMedia,
  type TruthMetrics,
  waitAnswering,
  waitRegistered,
} from './testing/fleet-processes.ts';

const MEDIA_IDS = ['m1', 'm2', 'm3'];
/** How long a pin may take to come back after Redis restarts empty ("at once": one store reconnect). */
const PIN_RECOVERY_LIMIT_MS = 10_000;
/** How long members of a room whose pin moved may take to be on the new server. */
const MIGRATION_LIMIT_MS = 5000;

function roomNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
}

/** ms until `condition` holds, or undefined if it did not within `timeoutMs` (a measurement, not an assertion). */
async function timeUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<number | undefined> {
  const startedAt = Date.now();
  try {
    await waitUntil(
      async () => {
        try {
          return await condition();
        } catch {
          return false;
        }
      },
      'a measured condition',
      timeoutMs,
    );
    return Date.now() - startedAt;
  } catch {
    return undefined;
  }
}

/** Waits until every room has had `count` newcomers joined since `sinceMs` (stream time). */
async function newcomersJoined(
  stream: NewcomerStream,
  rooms: readonly string[],
  count: number,
  sinceMs: number,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(
    () =>
      rooms.every(
        (room) => stream.joined().filter((o) => o.room === room && o.atMs >= sinceMs).length >= count,
      ),
    `${count} newcomers joined per room (${stream.describe()})`,
    timeoutMs,
  );
}

function metricsLine(name: string, metrics: TruthMetrics): string {
  return (
    `${name}: moves ${JSON.stringify(metrics.moves)} (all series ${metrics.movesTotal}), ` +
    `splits detected ${metrics.splitsDetected} repaired ${metrics.splitsRepaired}, ` +
    `pin repairs ${JSON.stringify(metrics.pinRepairs)} (all ${metrics.pinRepairsTotal}), ` +
    `pin writes timed out ${metrics.pinWritesTimedOut}`
  );
}

async function fleet(
  t: TestContext,
  brokers: readonly BrokerProcess[],
  extraArgs: string[] = [],
  ids = MEDIA_IDS,
) {
  const media = await Promise.all(ids.map((id) => startMedia(t, id, brokers, extraArgs)));
  await waitRegistered(brokers, ids.length);
  return media;
}

/** Splits and misplaced newcomers first: the figures the issue asks for, printed whatever fails. */
function assertNoSplits(sampler: SplitSampler, newcomers: NewcomerStream | undefined): void {
  assert.equal(sampler.splitSamples(), 0, `rooms split at sampled moments: ${sampler.describe()}`);
  if (newcomers !== undefined)
    assert.equal(newcomers.misplaced().length, 0, `newcomers away from the members: ${newcomers.describe()}`);
}

describe('one room, one server, with real processes', { timeout: 240_000 }, () => {
  test('memory mode: the broker SIGKILLed and restarted on its port splits no room', {
    timeout: 50_000,
  }, async (t) => {
    const broker = await startBroker(t);
    await fleet(t, [broker]);
    const rooms = roomNames('restart', 5);
    const members = await joinAll(t, broker.sessionUrl, rooms);
    await settled([broker], members.length);
    const before = placement(members);

    await broker.process.kill();
    const killedAt = Date.now();
    const newcomers = new NewcomerStream(t, () => broker.sessionUrl, rooms, members);
    broker.process.start();
    await waitAnswering(broker);
    const answeredAt = Date.now();
    const sampler = new SplitSampler(() => [...members, ...newcomers.current]);
    // Readiness next to the registered count: ready with no server is what the issue saw.
    const readiness: Array<{ ready: number | undefined; servers: number | undefined }> = [];
    const readinessProbe = setInterval(() => {
      void Promise.all([httpStatus(`${broker.url}/readyz`), registeredServers(broker)]).then(
        ([ready, servers]) => readiness.push({ ready, servers }),
      );
    }, 200);
    const registeredMs = await timeUntil(async () => (await registeredServers(broker)) === 3, 10_000);
    try {
      await newcomersJoined(newcomers, rooms, 8, answeredAt - killedAt, 30_000);
    } finally {
      clearInterval(readinessProbe);
      sampler.stop();
      await newcomers.stop();
    }
    const readyWithoutServers = readiness.filter((r) => r.ready === 200 && r.servers === 0).length;
    const readyAtEnd = await httpStatus(`${broker.url}/readyz`);
    const metrics = await brokerTruth(broker);
    t.diagnostic(
      `broker answered ${answeredAt - killedAt} ms after SIGKILL; 3 servers registered ${registeredMs ?? '>10000'} ms later`,
    );
    t.diagnostic(`splits: ${sampler.describe()}`);
    t.diagnostic(newcomers.describe());
    t.diagnostic(metricsLine('restarted broker', metrics));
    t.diagnostic(
      `/readyz after the restart (status/servers): ${readiness.map((r) => `${r.ready}/${r.servers}`).join(',')}; at the end ${readyAtEnd}`,
    );

    assertNoSplits(sampler, newcomers);
    assert.deepEqual(placement(members), before, 'the members stayed where they were');
    assert.equal(readyWithoutServers, 0, '/readyz never 200 while no media server is registered');
    assert.equal(readyAtEnd, 200, '/readyz 200 once the servers are back');
    assert.equal(metrics.movesTotal, 0, `no room moved: ${metricsLine('restarted broker', metrics)}`);
    assert.deepEqual(broker.process.logRecords('room moved'), [], 'and no move logged');
    assert.equal(metrics.splitsDetected, metrics.splitsRepaired, 'every detected split repaired');
    assert.ok(
      metrics.pinRepairsTotal >= 1,
      `the lost pins were rebuilt and counted (cause registration): ${metricsLine('restarted broker', metrics)}`,
    );
  });

  test('Redis, two brokers behind HAProxy: one restarted while newcomers come through the front splits no room', {
    timeout: 50_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const brokers = [
      await startBroker(t, { redisUrl: redis.url }),
      await startBroker(t, { redisUrl: redis.url }),
    ];
    const [restarted, other] = brokers as [BrokerProcess, BrokerProcess];
    await fleet(t, brokers);
    const front = await startFront(t, brokers);
    t.diagnostic(`HAProxy front checks ${front.checkPath}`);
    const rooms = roomNames('front', 10);
    const members = await joinAll(t, front.sessionUrl, rooms);
    await settled(brokers, members.length);

    const newcomers = new NewcomerStream(t, () => front.sessionUrl, rooms, members);
    const sampler = new SplitSampler(() => [...members, ...newcomers.current]);
    const startedAt = Date.now();
    try {
      await restarted.restart();
      const answeredMs = Date.now() - startedAt;
      t.diagnostic(`restarted broker answered ${answeredMs} ms after SIGKILL`);
      await newcomersJoined(newcomers, rooms, 8, answeredMs, 40_000);
    } finally {
      sampler.stop();
      await newcomers.stop();
    }
    const metrics = await Promise.all(brokers.map(brokerTruth));
    t.diagnostic(`splits: ${sampler.describe()}`);
    t.diagnostic(newcomers.describe());
    t.diagnostic(metricsLine('restarted broker', metrics[0]!));
    t.diagnostic(metricsLine('other broker', metrics[1]!));

    assertNoSplits(sampler, newcomers);
    for (const [index, broker] of [restarted, other].entries())
      assert.equal(
        metrics[index]!.movesTotal,
        0,
        `no healthy room moved: ${metricsLine(broker.process.name, metrics[index]!)}`,
      );
    for (const broker of brokers)
      assert.deepEqual(
        broker.process.logRecords('room moved'),
        [],
        `no move logged by ${broker.process.name}`,
      );
    for (const m of metrics)
      assert.equal(m.splitsDetected, m.splitsRepaired, 'every detected split repaired');
  });

  test('Redis SIGKILLed and restarted empty: pins come back at once and newcomers land with the members', {
    timeout: 50_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { redisUrl: redis.url });
    await fleet(t, [broker]);
    const rooms = roomNames('empty', 10);
    const members = await joinAll(t, broker.sessionUrl, rooms);
    await settled([broker], members.length);
    const membersServer = new Map([...placement(members)].map(([room, servers]) => [room, [...servers][0]!]));

    await redis.kill();
    await redis.restart();
    const restartedAt = Date.now();
    const newcomers = new NewcomerStream(t, () => broker.sessionUrl, rooms, members);
    const sampler = new SplitSampler(() => [...members, ...newcomers.current]);
    let pinsBackMs: number | undefined;
    try {
      pinsBackMs = await timeUntil(async () => {
        const pins = await pinnedRooms(broker);
        return rooms.every((room) => pins.get(room) === membersServer.get(room));
      }, 15_000);
      await newcomersJoined(newcomers, rooms, 5, 0, 30_000);
    } finally {
      sampler.stop();
      await newcomers.stop();
    }
    const pins = await pinnedRooms(broker);
    const wrong = rooms.filter((room) => pins.get(room) !== membersServer.get(room));
    const metrics = await brokerTruth(broker);
    t.diagnostic(
      `pins back with the members ${pinsBackMs === undefined ? 'NOT within 15000' : pinsBackMs} ms after Redis restarted empty` +
        ` (${Date.now() - restartedAt} ms run); rooms still unpinned or pinned elsewhere: ${wrong.length}`,
    );
    t.diagnostic(`splits: ${sampler.describe()}`);
    t.diagnostic(newcomers.describe());
    t.diagnostic(metricsLine('broker', metrics));

    assertNoSplits(sampler, newcomers);
    assert.ok(
      pinsBackMs !== undefined && pinsBackMs <= PIN_RECOVERY_LIMIT_MS,
      `every live room pinned to its members' server within ${PIN_RECOVERY_LIMIT_MS} ms (took ${pinsBackMs ?? '>15000'} ms; wrong now: ${wrong.join(',')})`,
    );
    assert.equal(metrics.movesTotal, 0, `no room moved: ${metricsLine('broker', metrics)}`);
    assert.deepEqual(broker.process.logRecords('room moved'), [], 'and no move logged');
    // The repairs are counted. Until 2026-12-03 about one loaded run in ten counted 9 of 10: a
    // report's opened rooms entered the live index one store call at a time, so the Redis kill
    // right after `settled` left the last ones out and a newcomer placed such a room as new
    // (beside its members, or by luck with them). Fixed in Assigner.roomsChanged; this asserts
    // what the product guarantees above (pins back with their members, no split, no move).
    t.diagnostic(`repairs counted: ${metrics.pinRepairsTotal} for ${rooms.length} lost pins`);
    assert.ok(metrics.pinRepairsTotal > 0, `repairs counted: ${metricsLine('broker', metrics)}`);
  });

  test('Redis frozen (SIGSTOP) for 10 s: calls go on, no room splits after SIGCONT', {
    timeout: 50_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { redisUrl: redis.url });
    await fleet(t, [broker]);
    const rooms = roomNames('frozen', 5);
    const members = await joinAll(t, broker.sessionUrl, rooms);
    await settled([broker], members.length);
    const before = placement(members);

    const newcomers = new NewcomerStream(t, () => broker.sessionUrl, rooms, members);
    const sampler = new SplitSampler(() => [...members, ...newcomers.current]);
    let membersAwaySamples = 0;
    const readiness: Array<number | undefined> = [];
    const watch = setInterval(() => {
      if (members.some((member) => member.session.state !== 'joined')) membersAwaySamples += 1;
      void httpStatus(`${broker.url}/readyz`).then((status) => readiness.push(status));
    }, 200);
    let thawedAtMs = 0;
    try {
      redis.freeze();
      const frozenAt = Date.now();
      // The scenario itself: Redis stays frozen for 10 s while newcomers keep asking.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      redis.thaw();
      thawedAtMs = Date.now() - frozenAt;
      await newcomersJoined(newcomers, rooms, 5, thawedAtMs + 1000, 30_000);
    } finally {
      redis.thaw();
      clearInterval(watch);
      sampler.stop();
      await newcomers.stop();
    }
    const during = newcomers.outcomes.filter((o) => o.atMs < thawedAtMs);
    const duringErrors = new Map<string, number>();
    for (const o of during)
      duringErrors.set(o.error ?? 'joined', (duringErrors.get(o.error ?? 'joined') ?? 0) + 1);
    const slowest = Math.max(0, ...during.map((o) => o.joinMs));
    const metrics = await brokerTruth(broker);
    t.diagnostic(
      `while frozen: ${during.length} newcomers → ${[...duringErrors].map(([k, n]) => `${k}×${n}`).join(', ')}; slowest answer ${slowest} ms`,
    );
    t.diagnostic(
      `members not joined at ${membersAwaySamples} samples; /readyz through it: ${readiness.join(',')}`,
    );
    t.diagnostic(`splits: ${sampler.describe()}`);
    t.diagnostic(newcomers.describe());
    t.diagnostic(metricsLine('broker', metrics));

    assert.equal(membersAwaySamples, 0, 'every member stayed joined: the call went on');
    assert.ok(
      readiness.includes(503),
      'a frozen store makes the broker not ready (a front stops sending it joins)',
    );
    await waitUntil(
      async () => (await httpStatus(`${broker.url}/readyz`)) === 200,
      'ready again after the thaw',
      10_000,
    );
    assert.deepEqual(placement(members), before, 'the members stayed where they were');
    assertNoSplits(sampler, newcomers);
    assert.equal(metrics.movesTotal, 0, `no room moved: ${metricsLine('broker', metrics)}`);
    assert.deepEqual(broker.process.logRecords('room moved'), [], 'and no move logged');
    assert.equal(metrics.splitsDetected, metrics.splitsRepaired, 'every detected split repaired');
  });

  test('a healthy room’s pin moved by an exclude request: the members migrate with it, peer ids kept', {
    timeout: 45_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { redisUrl: redis.url });
    await fleet(t, [broker]);
    const members = await joinAll(t, broker.sessionUrl, ['moved'], 2);
    await settled([broker], members.length);
    const from = members[0]!.session.serverId!;
    const peerIds = members.map((member) => member.session.peerId);
    const sampler = new SplitSampler(() => members);

    const response = await fetch(`${broker.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'session.request', v: 1, id: 'mover', room: 'moved', exclude: [from] }),
    });
    const answer = (await response.json()) as { server?: { id: string }; code?: string };
    const to = answer.server?.id;
    let migratedMs: number | undefined;
    let newcomer: Member | undefined;
    try {
      migratedMs = await timeUntil(
        () => members.every((member) => member.session.serverId === to),
        MIGRATION_LIMIT_MS + 3000,
      );
      newcomer = newMember(t, broker.sessionUrl, 'moved');
      await newcomer.session.join();
      members.push(newcomer);
      // Two more seconds of samples with the newcomer in.
      const taken = sampler.samples.length;
      await waitUntil(() => sampler.samples.length >= taken + 10, 'ten more split samples', 5000);
    } finally {
      sampler.stop();
    }
    const metrics = await brokerTruth(broker);
    const where = [...placement(members)]
      .map(([room, servers]) => `${room}@${[...servers].join('+')}`)
      .join(' ');
    t.diagnostic(
      `exclude [${from}] answered ${response.status} ${to ?? answer.code}; members on ${to} after ${migratedMs ?? 'never (limit)'} ms; now ${where}; newcomer on ${newcomer?.session.serverId}`,
    );
    t.diagnostic(`splits: ${sampler.describe()}`);
    t.diagnostic(metricsLine('broker', metrics));

    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.notEqual(to, from, 'the request excluding the room’s server got another server');
    assert.ok(
      migratedMs !== undefined && migratedMs <= MIGRATION_LIMIT_MS,
      `the members followed the pin to ${to} within ${MIGRATION_LIMIT_MS} ms (${where})`,
    );
    assert.deepEqual(
      members.slice(0, 2).map((member) => member.session.peerId),
      peerIds,
      'the members kept their peer ids',
    );
    assert.equal(newcomer?.session.serverId, to, 'the next newcomer lands with the members');
    assert.equal(splitRooms(members).length, 0, 'no split at the end');
    assert.equal(
      (await pinnedRooms(broker)).get('moved'),
      to,
      'the live room is still pinned where its members are',
    );
    assert.equal(metrics.movesTotal, 1, `the move counted once: ${metricsLine('broker', metrics)}`);
    const logged = broker.process.logRecords('room moved');
    assert.equal(logged.length, 1, 'the move logged once');
    assert.deepEqual(
      { room: logged[0]?.room, from: logged[0]?.from, to: logged[0]?.to, level: logged[0]?.level },
      { room: 'moved', from, to, level: 30 },
      'an info line naming the room and both servers',
    );
    assert.ok(
      logged[0]?.cause === 'member' || logged[0]?.cause === 'operator',
      `and the move's cause: ${JSON.stringify(logged[0])}`,
    );
    assert.equal(
      metrics.moves.member + metrics.moves.operator,
      1,
      `counted with cause member (a request's exclude): ${metricsLine('broker', metrics)}`,
    );
  });

  test('Redis: 40 concurrent new rooms (160 requests at once) spread over 3 servers', {
    timeout: 40_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { redisUrl: redis.url });
    await fleet(t, [broker]);
    const rooms = roomNames('herd', 40);
    // One open connection per request first, so that the 160 requests reach the broker together.
    await Promise.all(Array.from({ length: 160 }, () => httpStatus(`${broker.url}/healthz`)));
    let next = 0;
    const answers = await Promise.all(
      rooms.flatMap((room) =>
        Array.from({ length: 4 }, async () => {
          const response = await fetch(`${broker.url}/v1/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'session.request', v: 1, id: `h${++next}`, room }),
          });
          const body = (await response.json()) as { server?: { id: string }; code?: string };
          return { room, status: response.status, server: body.server?.id ?? `error:${body.code}` };
        }),
      ),
    );
    const byRoom = new Map<string, Set<string>>();
    for (const { room, server } of answers) byRoom.set(room, (byRoom.get(room) ?? new Set()).add(server));
    const roomsPerServer = new Map<string, number>();
    for (const servers of byRoom.values())
      for (const server of servers) roomsPerServer.set(server, (roomsPerServer.get(server) ?? 0) + 1);
    const metrics = await brokerTruth(broker);
    const spread = [...roomsPerServer].map(([id, n]) => `${id}:${n}`).join(' ');
    t.diagnostic(`rooms per server: ${spread}`);
    t.diagnostic(metricsLine('broker', metrics));

    const failed = answers.filter((answer) => answer.status !== 200);
    assert.equal(failed.length, 0, `every request assigned: ${JSON.stringify(failed.slice(0, 5))}`);
    const split = [...byRoom].filter(([, servers]) => servers.size > 1);
    assert.equal(split.length, 0, `each room's 4 requests got one server: ${split.length} did not`);
    assert.ok(
      Math.max(...roomsPerServer.values()) <= rooms.length / 2,
      `no server got more than half of the new rooms: ${spread}`,
    );
    assert.equal(metrics.movesTotal, 0, 'no room moved');
    assert.equal(metrics.splitsDetected, 0, 'no split detected');
  });

  test('Redis: 36 concurrent sessions against two servers with --max-peers 20: never above 20, no SERVER_FULL', {
    timeout: 45_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { redisUrl: redis.url });
    await fleet(t, [broker], ['--max-peers', '20'], ['c1', 'c2']);
    const members = roomNames('seat', 36).map((room) => newMember(t, broker.sessionUrl, room));
    let maxOnOne = 0;
    let maxReported = 0;
    const perServer = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const member of members) {
        const server = member.session.serverId;
        if (server !== null) counts.set(server, (counts.get(server) ?? 0) + 1);
      }
      return counts;
    };
    const watch = setInterval(() => {
      maxOnOne = Math.max(maxOnOne, ...perServer().values());
      void adminGet<{ servers: Array<{ peers: number }> }>(broker, '/admin/v1/servers').then(
        (body) => {
          maxReported = Math.max(maxReported, ...body.servers.map((server) => server.peers));
        },
        () => {},
      );
    }, 50);
    const results = await Promise.allSettled(members.map((member) => member.session.join()));
    maxOnOne = Math.max(maxOnOne, ...perServer().values());
    // The servers' own load reports trail the joins by up to one heartbeat.
    await timeUntil(async () => {
      const body = await adminGet<{ servers: Array<{ peers: number }> }>(broker, '/admin/v1/servers');
      maxReported = Math.max(maxReported, ...body.servers.map((server) => server.peers));
      return body.servers.reduce((sum, server) => sum + server.peers, 0) >= 36;
    }, 5000);
    clearInterval(watch);
    const full = members
      .flatMap((member) => member.warnings)
      .filter((warning) => warning.code === 'SERVER_FULL');
    const rejected = results.filter((result) => result.status === 'rejected');
    const metrics = await brokerTruth(broker);
    const spread = [...perServer()].map(([id, n]) => `${id}:${n}`).join(' ');
    t.diagnostic(
      `joined per server: ${spread}; max on one server ${maxOnOne} (sessions), ${maxReported} (servers' reports); SERVER_FULL ${full.length}; failed joins ${rejected.length}`,
    );
    t.diagnostic(metricsLine('broker', metrics));

    assert.equal(full.length, 0, `no join refused SERVER_FULL by a media server (${spread})`);
    assert.ok(maxOnOne <= 20, `no server ever above --max-peers 20: saw ${maxOnOne} (${spread})`);
    assert.ok(maxReported <= 20, `no server reported more than 20 peers: saw ${maxReported}`);
    assert.equal(rejected.length, 0, 'every session joined (36 ≤ 40 seats)');
    assert.equal(metrics.movesTotal, 0, 'no room moved');
  });
});

/**
 * Waits until the servers' load reports to every broker count `peers` peers: the rooms they
 * opened have been reported, so the fleet is in its steady state before the failure.
 */
async function settled(brokers: readonly BrokerProcess[], peers: number): Promise<void> {
  await waitUntil(
    async () => {
      const reports = await Promise.all(
        brokers.map((broker) => adminGet<{ servers: Array<{ peers: number }> }>(broker, '/admin/v1/servers')),
      );
      return reports.every((body) => body.servers.reduce((sum, server) => sum + server.peers, 0) === peers);
    },
    `the servers to report ${peers} peers`,
    10_000,
  );
}

/** Joins `perRoom` members per room (one at a time, so new rooms spread by load); asserts one server per room. */
async function joinAll(
  t: TestContext,
  brokerUrl: string,
  rooms: readonly string[],
  perRoom = 2,
): Promise<Member[]> {
  const members: Member[] = [];
  for (const room of rooms)
    for (let index = 0; index < perRoom; index++) {
      const member = newMember(t, brokerUrl, room);
      await member.session.join();
      members.push(member);
    }
  assert.deepEqual(splitRooms(members), [], 'no split before the failure');
  return members;
}
