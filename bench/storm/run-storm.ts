// A storm: a fresh fleet (brokers, media servers and, for several brokers, Redis and the HAProxy
// front, all on the server core), N simulated browsers in rooms of 2–8 (client processes on the
// client core), then one failure after another on that fleet — SIGKILL or SIGSTOP of the busiest
// media server, SIGKILL of a broker — and each one's records turned into a verdict.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type IpcWorker, startIpcWorker } from '../lib/ipc-worker.ts';
import { cpuByPid } from '../lib/proc-cpu.ts';
import type { Managed, ProcessGroup } from '../lib/processes.ts';
import { commandCalls, RedisInfoClient } from '../lib/redis-info.ts';
import { startUsherFleet, type UsherFleet } from '../orchestrate/fleet.ts';
import { health } from '../orchestrate/servers.ts';
import { analyzeStorm, roomSizes, type StormVerdict, seededRandom } from './analyze.ts';
import { LoadSampler, type LoadWindow } from './load-sampler.ts';
import type { FromClients, ReportMessage, StatusMessage, ToClients } from './messages.ts';
import type { ClientRecord } from './storm-client.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** SIGKILL / SIGSTOP: of the busiest media server; BROKER_SIGKILL: of a broker (needs another). */
export type FailureKind = 'SIGKILL' | 'SIGSTOP' | 'BROKER_SIGKILL';

export interface StormOptions {
  clients: number;
  /** One failure on a fresh fleet (as before `failures`); ignored when `failures` is given. */
  failure?: FailureKind;
  /** Failures one after another on one fleet, each after the previous one settled. */
  failures?: readonly FailureKind[];
  mediaCount?: number;
  /** Brokers (default 1); more than one needs `redis` and puts the HAProxy front before them. */
  brokers?: number;
  /** Share room pins through a redis-server the bench starts. */
  redis?: boolean;
  /** Several brokers: behind the HAProxy front (one URL, default), or every broker's URL given to
   *  the SDK (its BrokerPool), spread over the clients. */
  front?: 'haproxy' | 'sdk';
  /** Client processes (all on the client core). */
  processes?: number;
  ping?: { intervalMs: number; timeoutMs: number };
  heartbeat?: { intervalMs: number; timeoutMs: number };
  /** First joins per second, all processes together. */
  rampPerSecond?: number;
  /** Quiet time after everyone joined (and after each failure settled), before the next failure. */
  settleMs?: number;
  /** Longest wait for every affected client to be back. */
  deadlineMs?: number;
  /** The room rejoin target (p99), ms (default 5000; issue #17's fleet storm asks 3000). */
  roomRejoinLimitMs?: number;
  seed?: number;
  logLevel?: string;
  nodeFlags?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface StormPhaseResult extends StormVerdict {
  failure: FailureKind;
  victim: string;
  /** 1 for the fleet's first failure, 2 for the one after it on the same fleet, … */
  step: number;
  mediaServers: number;
  brokers: number;
  redis: boolean;
  /** How clients reach the brokers: the HAProxy front's one URL, every broker's URL in the SDK
   *  (spread over the clients), or the one broker's. */
  front: 'haproxy' | 'sdk' | 'none';
  clientProcesses: number;
  ping: { intervalMs: number; timeoutMs: number };
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Targets of the issue, evaluated (detection and rejoin are met vacuously when nobody was affected). */
  targets: {
    detectionP99Ms: { limit: number; met: boolean };
    roomRejoinP99Ms: { limit: number; met: boolean };
    lost: boolean;
    split: boolean;
    falseFailovers: boolean;
    everyoneRejoined: boolean;
  };
  /** ms from the failure until every affected client was back (or the deadline). */
  settledMs: number;
  /** CPU ms of the brokers and of the media servers still running, from the failure to the end. */
  cpuMs: { broker: number; media: number };
  /** What a live broker reported at the end. */
  healthAfter: { servers: number; rooms: number } | null;
  /** Before the failure, everyone joined and pinging: media CPU per ping, broker CPU ms per second. */
  steady: { seconds: number; mediaCpuUsPerPing: number; brokerCpuMsPerSecond: number };
  /** Sampled every 250 ms from the failure to the end of the phase. */
  load: LoadWindow;
  /** The same over the quiet time before the failure. */
  steadyLoad: LoadWindow;
  /** Over the clients' first joins (the first phase of a fleet only). */
  rampLoad?: LoadWindow;
  /** Failed first-join attempts by error code, each tried again (the first phase of a fleet only). */
  firstJoinErrors?: Record<string, number>;
  /** Redis commands by name from the failure to the end of the phase (fleet with Redis). */
  redisCommands?: Record<string, number>;
  /** 1-minute load average when the failure happened (a shared machine). */
  loadAverage: number;
}

type ClientProcess = IpcWorker<ToClients, FromClients>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nowMs = (): number => performance.timeOrigin + performance.now();

async function statusOf(clients: ClientProcess[]): Promise<StatusMessage[]> {
  return Promise.all(
    clients.map((client) => {
      client.send({ type: 'status' });
      return client.next('status', 10_000);
    }),
  );
}

async function reportOf(clients: ClientProcess[]): Promise<ReportMessage[]> {
  return Promise.all(
    clients.map((client) => {
      client.send({ type: 'report' });
      return client.next('report', 60_000);
    }),
  );
}

async function redisCalls(port: number | undefined): Promise<Record<string, number> | undefined> {
  if (port === undefined) return undefined;
  const client = await RedisInfoClient.connect(port);
  try {
    return commandCalls(await client.info('commandstats'));
  } finally {
    client.close();
  }
}

function callsBetween(
  before: Record<string, number> | undefined,
  after: Record<string, number> | undefined,
): Record<string, number> | undefined {
  if (before === undefined || after === undefined) return undefined;
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const added = calls - (before[name] ?? 0);
    if (added > 0) delta[name] = added;
  }
  // Our own readings of commandstats and the sampler's INFO are not the fleet's work.
  delete delta.info;
  return delta;
}

/** One failure on a fresh fleet. */
export async function runStormPhase(group: ProcessGroup, options: StormOptions): Promise<StormPhaseResult> {
  const [phase] = await runStorm(group, { ...options, failures: [options.failure ?? 'SIGKILL'] });
  return phase!;
}

/** `failures` (or the one `failure`) one after another on one fresh fleet. */
export async function runStorm(group: ProcessGroup, options: StormOptions): Promise<StormPhaseResult[]> {
  const log = options.log ?? (() => {});
  const failures = options.failures ?? [options.failure ?? 'SIGKILL'];
  const mediaCount = options.mediaCount ?? 3;
  const brokerCount = options.brokers ?? 1;
  const redisOn = options.redis ?? brokerCount > 1;
  const processCount = Math.max(1, Math.min(options.processes ?? 2, options.clients));
  const ping = options.ping ?? { intervalMs: 1000, timeoutMs: 2500 };
  const heartbeat = options.heartbeat ?? { intervalMs: 1000, timeoutMs: 3000 };
  const rampPerSecond = options.rampPerSecond ?? 1000;
  const settleMs = options.settleMs ?? 2000;
  const random = seededRandom(options.seed ?? 1);
  const brokerKills = failures.filter((failure) => failure === 'BROKER_SIGKILL').length;
  if (brokerKills >= brokerCount)
    throw new Error(`storm: ${brokerKills} broker kill(s) need more than ${brokerCount} broker(s)`);
  if (failures.length - brokerKills >= mediaCount)
    throw new Error(
      `storm: ${failures.length - brokerKills} media failures need more than ${mediaCount} media servers`,
    );

  const started: Managed[] = [];
  let fleet: UsherFleet | undefined;
  let sampler: LoadSampler | undefined;
  try {
    fleet = await startUsherFleet(group, {
      brokers: brokerCount,
      front: brokerCount > 1 && options.front !== 'sdk',
      mediaCount,
      redis: redisOn,
      // Every client keeps a broker socket open through the front, plus room for the checks.
      frontMaxConnections: Math.max(4000, options.clients + 500),
      logLevel: options.logLevel ?? 'info',
      nodeFlags: options.nodeFlags ?? [],
      brokerArgs: [
        '--ping-interval-ms',
        String(ping.intervalMs),
        '--ping-timeout-ms',
        String(ping.timeoutMs),
        '--heartbeat-interval-ms',
        String(heartbeat.intervalMs),
        '--heartbeat-timeout-ms',
        String(heartbeat.timeoutMs),
      ],
    });
    const stack = fleet;
    started.push(
      ...stack.brokers.map((broker) => broker.process),
      ...stack.media.map((media) => media.process),
      ...(stack.redis === undefined ? [] : [stack.redis.process]),
      ...(stack.front === undefined ? [] : [stack.front.process]),
    );
    const groups: Record<string, number[]> = {};
    for (const broker of stack.brokers) groups[`broker ${broker.id}`] = [broker.process.pid];
    groups.brokers = stack.brokers.map((broker) => broker.process.pid);
    groups.media = stack.media.map((media) => media.process.pid);
    if (stack.redis !== undefined) groups.redis = [stack.redis.process.pid];
    if (stack.front !== undefined) groups.haproxy = [stack.front.process.pid];
    sampler = new LoadSampler(
      groups,
      stack.redis === undefined ? undefined : await RedisInfoClient.connect(stack.redis.port),
    );
    sampler.start();

    // Rooms of 2–8 consecutive clients; clients dealt round-robin to processes, so a room's
    // members live in different processes as they live in different browsers.
    const assignments: Array<Array<{ index: number; room: string }>> = Array.from(
      { length: processCount },
      () => [],
    );
    let index = 0;
    roomSizes(options.clients, random).forEach((size, roomIndex) => {
      for (let member = 0; member < size; member += 1, index += 1) {
        assignments[index % processCount]!.push({ index, room: `storm-${roomIndex}` });
      }
    });
    const clients = assignments.map((_, at) =>
      startIpcWorker<ToClients, FromClients>(group, `storm clients ${at + 1}`, WORKER),
    );
    started.push(...clients.map((client) => client.managed));
    sampler.watch(
      'client processes',
      clients.map((client) => client.managed.pid),
    );
    await Promise.all(clients.map((client) => client.next('ready', 30_000)));
    const rampStart = nowMs();
    clients.forEach((client, at) => {
      client.send({
        type: 'start',
        brokerUrls: stack.sessionUrls,
        clients: assignments[at]!,
        rampPerSecond: rampPerSecond / processCount,
      });
    });

    const joinDeadline = Date.now() + (options.clients / rampPerSecond) * 1000 + 60_000;
    const firstJoinErrors: Record<string, number> = {};
    for (;;) {
      const statuses = await statusOf(clients);
      const joined = statuses.reduce((sum, status) => sum + status.joined, 0);
      const failed = statuses.reduce((sum, status) => sum + status.failedFirstJoins, 0);
      for (const key of Object.keys(firstJoinErrors)) delete firstJoinErrors[key];
      for (const status of statuses)
        for (const [code, count] of Object.entries(status.firstJoinErrors))
          firstJoinErrors[code] = (firstJoinErrors[code] ?? 0) + count;
      if (failed > 0) {
        const codes = firstJoinErrors;
        throw new Error(`storm: ${failed} clients could not join at start (${JSON.stringify(codes)})`);
      }
      if (joined === options.clients) break;
      if (Date.now() > joinDeadline)
        throw new Error(`storm: only ${joined}/${options.clients} joined at start`);
      await sleep(200);
    }
    const rampLoad = sampler.window(rampStart, nowMs());
    log(`storm: ${options.clients} clients joined in ${Math.round(rampLoad.seconds)} s; settling`);

    const failedMedia = new Set<string>();
    const killedBrokers = new Set<string>();
    const phases: StormPhaseResult[] = [];
    for (const [step, failure] of failures.entries()) {
      const liveBrokers = stack.brokers.filter((broker) => !killedBrokers.has(broker.id));
      const liveMedia = stack.media.filter((media) => !failedMedia.has(media.id));
      const brokerPids = liveBrokers.map((broker) => broker.process.pid);
      const mediaPids = liveMedia.map((media) => media.process.pid);
      // The quiet time doubles as the steady-state measure: what idle, pinging clients cost.
      const steadyStart = { at: nowMs(), cpu: cpuByPid([...brokerPids, ...mediaPids]) };
      await sleep(settleMs);
      const steadyEnd = { at: nowMs(), cpu: cpuByPid([...brokerPids, ...mediaPids]) };
      const steadySeconds = (steadyEnd.at - steadyStart.at) / 1000;
      const steadyCpu = (pids: number[]): number =>
        pids.reduce((sum, pid) => sum + (steadyEnd.cpu[pid] ?? 0) - (steadyStart.cpu[pid] ?? 0), 0);
      const pings = (options.clients * steadySeconds * 1000) / ping.intervalMs;
      const steady = {
        seconds: steadySeconds,
        mediaCpuUsPerPing: steadyCpu(mediaPids) / pings,
        brokerCpuMsPerSecond: steadyCpu(brokerPids) / 1000 / steadySeconds,
      };
      const steadyLoad = sampler.window(steadyStart.at, steadyEnd.at);

      const before: ClientRecord[] = (await reportOf(clients)).flatMap((report) => report.records);
      let victimId: string;
      let victimProcess: Managed;
      let onVictimBefore = 0;
      if (failure === 'BROKER_SIGKILL') {
        const broker = liveBrokers[0]!;
        victimId = `broker ${broker.id}`;
        victimProcess = broker.process;
        killedBrokers.add(broker.id);
      } else {
        const perServer = new Map<string, number>(liveMedia.map((media) => [media.id, 0]));
        for (const record of before) {
          if (record.serverId !== null && perServer.has(record.serverId))
            perServer.set(record.serverId, perServer.get(record.serverId)! + 1);
        }
        const [busiest, count] = [...perServer.entries()].sort((a, b) => b[1] - a[1])[0]!;
        victimId = busiest;
        onVictimBefore = count;
        victimProcess = stack.media.find((media) => media.id === busiest)!.process;
        failedMedia.add(busiest);
      }
      const survivingBrokers = stack.brokers.filter((broker) => !killedBrokers.has(broker.id));
      const survivors = [
        ...survivingBrokers.map((broker) => broker.process.pid),
        ...stack.media.filter((media) => !failedMedia.has(media.id)).map((media) => media.process.pid),
      ];
      const cpuBefore = cpuByPid(survivors);
      const redisBefore = await redisCalls(stack.redis?.port);
      const [loadAverage] = loadavg();

      const t0 = nowMs();
      victimProcess.signal(failure === 'SIGSTOP' ? 'SIGSTOP' : 'SIGKILL');
      log(
        `storm step ${step + 1} ${failure}: ${victimId}${failure === 'BROKER_SIGKILL' ? '' : ` (${onVictimBefore} clients)`} at t0`,
      );

      const deadlineMs = options.deadlineMs ?? 30_000;
      let settledMs = deadlineMs;
      for (;;) {
        await sleep(100);
        const statuses = await statusOf(clients);
        const elapsed = nowMs() - t0;
        const onVictim = statuses.reduce((sum, status) => sum + (status.servers[victimId] ?? 0), 0);
        const settled = statuses.reduce((sum, status) => sum + status.joined + status.closed, 0);
        if (onVictim === 0 && settled === options.clients) {
          settledMs = elapsed;
          break;
        }
        if (elapsed > deadlineMs) break;
      }
      // Keep watching past one more ping deadline: a healthy client failing over late is still false.
      await sleep(ping.timeoutMs + ping.intervalMs);
      const phaseEnd = nowMs();
      const cpuAfter = cpuByPid(survivors);
      const redisAfter = await redisCalls(stack.redis?.port);
      const reports = await reportOf(clients);
      const after = reports.flatMap((report) => report.records);
      const requestTimes = reports.flatMap((report) => report.requestTimes);
      let healthAfter: StormPhaseResult['healthAfter'] = null;
      try {
        const body = await health(survivingBrokers[0]!.url);
        healthAfter = { servers: body.servers, rooms: body.rooms };
      } catch {
        // the report says null
      }

      const verdict = analyzeStorm({
        before,
        after,
        victim: victimId,
        t0,
        requestTimes,
        horizonMs: Math.max(3000, Math.min(20_000, Math.ceil(settledMs / 1000) * 1000 + 1000)),
      });
      const cpuDelta = (pid: number): number => ((cpuAfter[pid] ?? 0) - (cpuBefore[pid] ?? 0)) / 1000;
      const detectionLimit = ping.timeoutMs + ping.intervalMs;
      const rejoinLimit = options.roomRejoinLimitMs ?? 5000;
      const nobodyAffected = verdict.affectedClients === 0;
      const redisCommands = callsBetween(redisBefore, redisAfter);
      phases.push({
        failure,
        victim: victimId,
        step: step + 1,
        mediaServers: mediaCount,
        brokers: brokerCount,
        redis: redisOn,
        front: stack.front !== undefined ? 'haproxy' : brokerCount > 1 ? 'sdk' : 'none',
        clientProcesses: processCount,
        ping,
        heartbeat,
        ...verdict,
        targets: {
          detectionP99Ms: {
            limit: detectionLimit,
            met: nobodyAffected || verdict.detectionMs.p99 <= detectionLimit,
          },
          roomRejoinP99Ms: {
            limit: rejoinLimit,
            met:
              nobodyAffected ||
              (verdict.roomRejoinMs.n === verdict.affectedRooms && verdict.roomRejoinMs.p99 <= rejoinLimit),
          },
          lost: verdict.lostSessions === 0,
          split: verdict.splitRooms === 0,
          falseFailovers: verdict.falseFailovers === 0,
          everyoneRejoined: verdict.affectedNotRejoined === 0,
        },
        settledMs,
        cpuMs: {
          broker: survivingBrokers.reduce((sum, broker) => sum + cpuDelta(broker.process.pid), 0),
          media: stack.media
            .filter((media) => !failedMedia.has(media.id))
            .reduce((sum, media) => sum + cpuDelta(media.process.pid), 0),
        },
        healthAfter,
        steady,
        load: sampler.window(t0, phaseEnd),
        steadyLoad,
        ...(step === 0 ? { rampLoad, firstJoinErrors: { ...firstJoinErrors } } : {}),
        ...(redisCommands === undefined ? {} : { redisCommands }),
        loadAverage: loadAverage ?? Number.NaN,
      });
    }
    for (const client of clients) client.send({ type: 'stop' });
    return phases;
  } finally {
    sampler?.stop();
    await Promise.all(started.map((managed) => group.kill(managed)));
    fleet?.cleanUp();
  }
}
