// One storm phase: a fresh stack (broker + media servers on the server core), N simulated
// browsers in rooms of 2–8 (client processes on the client core), then SIGKILL or SIGSTOP
// of the busiest media server, and the clients' records turned into a verdict.
import { fileURLToPath } from 'node:url';
import { type IpcWorker, startIpcWorker } from '../lib/ipc-worker.ts';
import { cpuByPid } from '../lib/proc-cpu.ts';
import type { Managed, ProcessGroup } from '../lib/processes.ts';
import { health, startUsherStack, type UsherStack } from '../orchestrate/servers.ts';
import { analyzeStorm, roomSizes, type StormVerdict, seededRandom } from './analyze.ts';
import type { FromClients, ReportMessage, StatusMessage, ToClients } from './messages.ts';
import type { ClientRecord } from './storm-client.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export type FailureKind = 'SIGKILL' | 'SIGSTOP';

export interface StormOptions {
  clients: number;
  failure: FailureKind;
  mediaCount?: number;
  /** Client processes (all on the client core). */
  processes?: number;
  ping?: { intervalMs: number; timeoutMs: number };
  heartbeat?: { intervalMs: number; timeoutMs: number };
  /** First joins per second, all processes together. */
  rampPerSecond?: number;
  /** Quiet time after everyone joined, before the failure. */
  settleMs?: number;
  /** Longest wait for every affected client to be back. */
  deadlineMs?: number;
  seed?: number;
  logLevel?: string;
  nodeFlags?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface StormPhaseResult extends StormVerdict {
  failure: FailureKind;
  victim: string;
  mediaServers: number;
  clientProcesses: number;
  ping: { intervalMs: number; timeoutMs: number };
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Targets of the issue, evaluated. */
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
  /** CPU ms of the broker and of the surviving media servers from the failure to the end. */
  cpuMs: { broker: number; media: number };
  /** What the broker reported at the end. */
  healthAfter: { servers: number; rooms: number } | null;
  /** Before the failure, everyone joined and pinging: media CPU per ping, broker CPU ms per second. */
  steady: { seconds: number; mediaCpuUsPerPing: number; brokerCpuMsPerSecond: number };
}

type ClientProcess = IpcWorker<ToClients, FromClients>;

function clientProcess(group: ProcessGroup, name: string): ClientProcess {
  return startIpcWorker(group, name, WORKER);
}

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
      return client.next('report', 30_000);
    }),
  );
}

export async function runStormPhase(group: ProcessGroup, options: StormOptions): Promise<StormPhaseResult> {
  const log = options.log ?? (() => {});
  const mediaCount = options.mediaCount ?? 3;
  const processCount = Math.max(1, Math.min(options.processes ?? 2, options.clients));
  const ping = options.ping ?? { intervalMs: 1000, timeoutMs: 2500 };
  const heartbeat = options.heartbeat ?? { intervalMs: 1000, timeoutMs: 3000 };
  const rampPerSecond = options.rampPerSecond ?? 1000;
  const random = seededRandom(options.seed ?? 1);

  const started: Managed[] = [];
  try {
    const stack: UsherStack = await startUsherStack(group, {
      mediaCount,
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
    started.push(stack.broker, ...stack.media.map((media) => media.process));

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
    const clients = assignments.map((_, at) => clientProcess(group, `storm clients ${at + 1}`));
    started.push(...clients.map((client) => client.managed));
    await Promise.all(clients.map((client) => client.next('ready', 20_000)));
    const brokerWs = `ws://${stack.brokerHost}:${stack.brokerPort}/v1/session`;
    clients.forEach((client, at) => {
      client.send({
        type: 'start',
        brokerUrl: brokerWs,
        clients: assignments[at]!,
        rampPerSecond: rampPerSecond / processCount,
      });
    });

    const joinDeadline = Date.now() + (options.clients / rampPerSecond) * 1000 + 30_000;
    for (;;) {
      const statuses = await statusOf(clients);
      const joined = statuses.reduce((sum, status) => sum + status.joined, 0);
      const failed = statuses.reduce((sum, status) => sum + status.failedFirstJoins, 0);
      if (failed > 0) throw new Error(`storm: ${failed} clients could not join at start`);
      if (joined === options.clients) break;
      if (Date.now() > joinDeadline)
        throw new Error(`storm: only ${joined}/${options.clients} joined at start`);
      await sleep(200);
    }
    log(`storm ${options.failure}: ${options.clients} clients joined; settling`);
    // The quiet time doubles as the steady-state measure: what idle, pinging clients cost.
    const mediaPids = stack.media.map((media) => media.process.pid);
    const steadyStart = { at: nowMs(), cpu: cpuByPid([stack.broker.pid, ...mediaPids]) };
    await sleep(options.settleMs ?? 2000);
    const steadyEnd = { at: nowMs(), cpu: cpuByPid([stack.broker.pid, ...mediaPids]) };
    const steadySeconds = (steadyEnd.at - steadyStart.at) / 1000;
    const steadyCpu = (pids: number[]): number =>
      pids.reduce((sum, pid) => sum + (steadyEnd.cpu[pid] ?? 0) - (steadyStart.cpu[pid] ?? 0), 0);
    const pings = (options.clients * steadySeconds * 1000) / ping.intervalMs;
    const steady = {
      seconds: steadySeconds,
      mediaCpuUsPerPing: steadyCpu(mediaPids) / pings,
      brokerCpuMsPerSecond: steadyCpu([stack.broker.pid]) / 1000 / steadySeconds,
    };

    const before: ClientRecord[] = (await reportOf(clients)).flatMap((report) => report.records);
    const perServer = new Map<string, number>();
    for (const record of before) {
      if (record.serverId !== null) perServer.set(record.serverId, (perServer.get(record.serverId) ?? 0) + 1);
    }
    const victimId = [...perServer.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const victim = stack.media.find((media) => media.id === victimId)!;
    const survivors = stack.media.filter((media) => media !== victim).map((media) => media.process.pid);
    const cpuBefore = cpuByPid([stack.broker.pid, ...survivors]);

    const t0 = nowMs();
    victim.process.signal(options.failure);
    log(`storm ${options.failure}: ${victimId} (${perServer.get(victimId)} clients) at t0`);

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
    const cpuAfter = cpuByPid([stack.broker.pid, ...survivors]);
    const reports = await reportOf(clients);
    const after = reports.flatMap((report) => report.records);
    const requestTimes = reports.flatMap((report) => report.requestTimes);
    let healthAfter: StormPhaseResult['healthAfter'] = null;
    try {
      const body = await health(stack.brokerUrl);
      healthAfter = { servers: body.servers, rooms: body.rooms };
    } catch {
      // the report says null
    }
    for (const client of clients) client.send({ type: 'stop' });

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
    return {
      failure: options.failure,
      victim: victimId,
      mediaServers: mediaCount,
      clientProcesses: processCount,
      ping,
      heartbeat,
      ...verdict,
      targets: {
        detectionP99Ms: { limit: detectionLimit, met: verdict.detectionMs.p99 <= detectionLimit },
        roomRejoinP99Ms: {
          limit: 5000,
          met: verdict.roomRejoinMs.n === verdict.affectedRooms && verdict.roomRejoinMs.p99 <= 5000,
        },
        lost: verdict.lostSessions === 0,
        split: verdict.splitRooms === 0,
        falseFailovers: verdict.falseFailovers === 0,
        everyoneRejoined: verdict.affectedNotRejoined === 0,
      },
      settledMs,
      cpuMs: {
        broker: cpuDelta(stack.broker.pid),
        media: survivors.reduce((sum, pid) => sum + cpuDelta(pid), 0),
      },
      healthAfter,
      steady,
    };
  } finally {
    await Promise.all(started.map((managed) => group.kill(managed)));
  }
}
