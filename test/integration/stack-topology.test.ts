// `usher stack --brokers 2 --redis`: the several-broker topology from local processes (Redis,
// an HAProxy front checking /readyz, two brokers, three media servers, coturn), used by real SDK
// clients through the one front URL. The failures run against the stack's own supervised
// processes: a broker SIGKILLed under a load of joins, Redis SIGKILLed (the stack starts it again,
// empty), Redis frozen for 10 s. Each phase prints what the clients saw.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../shared/testing/wait.ts';
import type { RetryingEvent } from '../../web/sdk/rejoin.ts';
import {
  httpStatus,
  type Member,
  NewcomerStream,
  newMember,
  SECRET,
  SplitSampler,
  splitRooms,
} from './testing/fleet-processes.ts';

const bin = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));
const ROOMS = Array.from({ length: 6 }, (_, index) => `topo-${index + 1}`);
const LOAD_JOINS = 24;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ten consecutive ports free right now: front, 2 brokers, 3 media servers, Redis, coturn. */
async function freeRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: 10 }, (_, index) => base + index);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free ports found');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What one client saw: retries by code, and the outcome of its join. */
interface Observed {
  member: Member;
  retries: RetryingEvent[];
  outcome?: string;
}

function watch(member: Member): Observed {
  const observed: Observed = { member, retries: [] };
  member.session.on('retrying', (event) => observed.retries.push(event));
  return observed;
}

function codes(events: Iterable<RetryingEvent>): string {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(String(event.code), (counts.get(String(event.code)) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${code}×${n}`).join(', ') || 'none';
}

test('usher stack --brokers 2 --redis: clients through the front survive a broker kill, a Redis kill and a Redis freeze', {
  timeout: 180_000,
}, async (t) => {
  const base = await freeRun();
  const ports = { front: base, brokers: base + 1, media: base + 3, redis: base + 6, turn: base + 7 };
  const stack = spawn(
    process.execPath,
    [
      bin,
      'stack',
      '--brokers',
      '2',
      '--redis',
      '--port',
      String(ports.front),
      '--broker-base-port',
      String(ports.brokers),
      '--media-base-port',
      String(ports.media),
      '--redis-port',
      String(ports.redis),
      '--turn-port',
      String(ports.turn),
      '--json',
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        USHER_SECRET: SECRET,
        USHER_RATE_LIMIT_PER_MIN: '0',
        // These members send no join tokens: admission has its own tests.
        USHER_AUTH: 'open',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  stack.stdout.on('data', collect);
  stack.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => stack.once('exit', (code) => resolve(code)));
  const everyPid = (): number[] => [...output.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
  t.after(async () => {
    // A frozen Redis must be woken before it can be killed.
    for (const pid of everyPid()) if (alive(pid)) process.kill(pid, 'SIGCONT');
    if (stack.exitCode === null) {
      stack.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    }
    for (const pid of everyPid()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (stack.exitCode === null) stack.kill('SIGKILL');
  });
  const currentPid = (name: string): number => {
    const restarts = [...output.matchAll(new RegExp(`${name} restarted, pid (\\d+)`, 'g'))];
    const banner = new RegExp(`^ {2}${name}\\s+pid (\\d+) `, 'm').exec(output);
    const pid = restarts.at(-1)?.[1] ?? banner?.[1];
    assert.ok(pid !== undefined, `no pid for ${name} in:\n${output.slice(-3000)}`);
    return Number(pid);
  };
  await waitUntil(
    () => output.includes('Usher is running') || stack.exitCode !== null,
    'the ready banner',
    90_000,
  );
  assert.match(output, new RegExp(`Open http://localhost:${ports.front}/\\?room=lobby`), output.slice(-3000));
  const front = `http://127.0.0.1:${ports.front}`;
  const frontSession = `ws://127.0.0.1:${ports.front}/v1/session`;
  const brokerReady = (index: number) => httpStatus(`http://127.0.0.1:${ports.brokers + index}/readyz`);
  // The banner comes first; the media servers' registrations and the warm-up follow it.
  await waitUntil(
    async () => (await httpStatus(`${front}/readyz`)) === 200,
    'the front to answer /readyz 200',
    30_000,
  );
  const mediaPids = ['media-1', 'media-2', 'media-3'].map(currentPid);
  const startedAt = Date.now();

  // Two members per room, through the front.
  const members: Member[] = [];
  for (const room of ROOMS) for (let i = 0; i < 2; i++) members.push(newMember(t, frontSession, room));
  await Promise.all(members.map((member) => member.session.join()));
  assert.deepEqual(splitRooms(members), [], 'members placed without a split');
  const everyone = (): Member[] => [...members, ...loadJoiners.map((o) => o.member)];
  const loadJoiners: Observed[] = [];
  const sampler = new SplitSampler(everyone, 200);
  t.after(() => sampler.stop());

  // ---- 1. SIGKILL broker-1 under a load of joins ----
  const brokerPid = currentPid('broker-1');
  const joins: Array<Promise<void>> = [];
  for (let i = 0; i < LOAD_JOINS; i++) {
    const observed = watch(newMember(t, frontSession, ROOMS[i % ROOMS.length]!));
    loadJoiners.push(observed);
    joins.push(
      new Promise<void>((resolve) => setTimeout(resolve, i * 40)).then(() =>
        observed.member.session.join().then(
          () => {
            observed.outcome = 'joined';
          },
          (error: { code?: string }) => {
            observed.outcome = error.code ?? String(error);
          },
        ),
      ),
    );
  }
  // Killed while joins are arriving and some are in flight on it.
  await waitUntil(
    () => loadJoiners.filter((o) => o.outcome === 'joined').length >= 4,
    'the first load joins',
    30_000,
  );
  process.kill(brokerPid, 'SIGKILL');
  await Promise.all(joins);
  const killReport =
    `broker kill under ${LOAD_JOINS} joins: ${loadJoiners.filter((o) => o.outcome === 'joined').length} joined; ` +
    `retries per client ${loadJoiners.map((o) => o.retries.length).join(',')} (${codes(loadJoiners.flatMap((o) => o.retries))}); ` +
    `members still joined ${members.filter((m) => m.session.state === 'joined').length}/${members.length}`;
  t.diagnostic(killReport);
  assert.ok(
    loadJoiners.every((o) => o.outcome === 'joined'),
    killReport,
  );
  assert.ok(
    loadJoiners.every((o) => o.retries.length <= 1),
    `a dead broker costs a client at most one retry: ${killReport}`,
  );
  assert.ok(
    members.every((m) => m.session.state === 'joined'),
    `the calls went on: ${killReport}`,
  );
  assert.deepEqual(splitRooms(everyone()), [], 'no room split after the broker kill');
  await waitUntil(() => output.includes('broker-1 restarted'), 'the stack to restart broker-1', 10_000);
  await waitUntil(async () => (await brokerReady(0)) === 200, 'broker-1 ready again', 60_000);
  t.diagnostic(`broker-1 back and ready ${Date.now() - startedAt} ms after the phase began`);

  // ---- 2. SIGKILL Redis: the stack starts it again, empty ----
  const redisPid = currentPid('redis');
  const killedAt = Date.now();
  // Live rooms, and a room nobody is in yet (it needs a new pin in Redis).
  const duringKill = new NewcomerStream(
    t,
    () => frontSession,
    [...ROOMS.slice(0, 3), 'fresh-kill'],
    members,
    1000,
  );
  process.kill(redisPid, 'SIGKILL');
  await waitUntil(() => currentPid('redis') !== redisPid, 'the stack to restart Redis', 15_000);
  await waitUntil(
    async () => (await brokerReady(0)) === 200 && (await brokerReady(1)) === 200,
    'both brokers ready again on the empty Redis',
    60_000,
  );
  const redisBackMs = Date.now() - killedAt;
  await duringKill.stop();
  const afterKill = new NewcomerStream(t, () => frontSession, ROOMS, members, 500);
  await new Promise<void>((resolve) => setTimeout(resolve, 1500));
  await afterKill.stop();
  const redisKillReport = `redis kill: brokers ready again after ${redisBackMs} ms; during: ${duringKill.describe()}, ${duringKill.describeWaits()}; after: ${afterKill.describe()}`;
  t.diagnostic(redisKillReport);
  assert.equal(
    afterKill.misplaced().length,
    0,
    `newcomers after Redis came back join their room's server: ${redisKillReport}`,
  );
  assert.equal(afterKill.failed().length, 0, redisKillReport);
  assert.deepEqual(splitRooms(everyone()), [], 'no room split after Redis came back empty');
  assert.ok(
    members.every((m) => m.session.state === 'joined'),
    'the calls went on through the Redis outage',
  );

  // ---- 3. Freeze Redis for 10 s ----
  const frozenPid = currentPid('redis');
  const duringFreeze = new NewcomerStream(
    t,
    () => frontSession,
    [...ROOMS.slice(0, 3), 'fresh-freeze'],
    members,
    1000,
  );
  process.kill(frozenPid, 'SIGSTOP');
  const frozenAt = Date.now();
  let notReadySeen = false;
  while (Date.now() - frozenAt < 10_000) {
    if ((await brokerReady(0)) !== 200 || (await brokerReady(1)) !== 200) notReadySeen = true;
    await new Promise<void>((resolve) => setTimeout(resolve, 250));
  }
  process.kill(frozenPid, 'SIGCONT');
  await waitUntil(
    async () => (await brokerReady(0)) === 200 && (await brokerReady(1)) === 200,
    'both brokers ready after Redis thawed',
    60_000,
  );
  await duringFreeze.stop();
  const afterFreeze = new NewcomerStream(t, () => frontSession, ROOMS, members, 500);
  await new Promise<void>((resolve) => setTimeout(resolve, 1500));
  await afterFreeze.stop();
  sampler.stop();
  const freezeReport =
    `redis freeze 10 s: a broker reported not ready meanwhile: ${notReadySeen}; during: ${duringFreeze.describe()}, ${duringFreeze.describeWaits()}; ` +
    `after: ${afterFreeze.describe()}; split samples: ${sampler.describe()}`;
  t.diagnostic(freezeReport);
  assert.ok(notReadySeen, `a frozen Redis takes the brokers out of the front (/readyz 503): ${freezeReport}`);
  assert.equal(afterFreeze.misplaced().length, 0, freezeReport);
  assert.equal(afterFreeze.failed().length, 0, freezeReport);
  assert.deepEqual(splitRooms(everyone()), [], 'no room split after the freeze');
  assert.ok(
    members.every((m) => m.session.state === 'joined'),
    'the calls went on through the freeze',
  );
  for (const pid of mediaPids) assert.ok(alive(pid), 'media servers were never restarted');
  assert.doesNotMatch(output, /media-\d restarted/);

  stack.kill('SIGINT');
  assert.equal(await exited, 0);
});
