// Steady state: N clients joined and pinging one media server at the default interval, and the
// same N pinging a bare `ws` echo on the same core in the same run. Per size and target: server
// CPU per ping (from /proc over the window), resident memory per client, pong round trips, and
// whether every pong came back inside the ping timeout.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../lib/histogram.ts';
import { type IpcWorker, startIpcWorker } from '../lib/ipc-worker.ts';
import { coreBusy, coreTimes, processCpuUs } from '../lib/proc-cpu.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { runInChild } from '../orchestrate/load-runner.ts';
import {
  type SimpleServer,
  startBenchServer,
  startUsherStack,
  type UsherStack,
} from '../orchestrate/servers.ts';
import type { FakeFleetJob, FakeFleetResult } from './fake-fleet.ts';
import type { FromSteadyClients, SteadyWindow, ToSteadyClients } from './messages.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface SteadyOptions {
  sizes: readonly number[];
  /** Client processes per size (all on the client core). */
  processes: number;
  durationMs: number;
  /** Pinging before the window opens. */
  warmupMs: number;
  ping: { intervalMs: number; timeoutMs: number };
  /** Connections (and joins) opened per second, all processes together. */
  rampPerSecond: number;
  logLevel?: string;
  nodeFlags?: string[];
  log?: (line: string) => void;
}

export interface SteadyPoint {
  target: 'media' | 'echo';
  clients: number;
  /** Clients joined (media) or connected (echo) when the window opened. */
  open: number;
  failed: number;
  /** Join attempts made again after a failure (each failure is counted in `errors`). */
  retries: number;
  errors: Record<string, number>;
  pings: number;
  pongs: number;
  late: number;
  missing: number;
  closed: number;
  windowMs: number;
  serverCpuUsPerPing: number;
  /** Server CPU over the window as a share of one core. */
  serverBusyPct: number;
  clientBusyPct: number;
  coreBusyPct: number[];
  rssIdleMb: number;
  rssMb: number;
  rssKbPerClient: number;
  rttP50Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
  /** Every open client answered inside the timeout, none late, none missing, none closed. */
  sustained: boolean;
  /** 1-minute load average when the window closed (other tenants of the machine). */
  loadAverage: number;
}

type SteadyClientProcess = IpcWorker<ToSteadyClients, FromSteadyClients>;

function clientProcess(group: ProcessGroup, name: string): SteadyClientProcess {
  return startIpcWorker(group, name, WORKER);
}

/** VmRSS of `pid` in kB (0 when unreadable). */
export function residentKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

function loadAverage1(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measureSize(
  group: ProcessGroup,
  options: SteadyOptions,
  target: 'media' | 'echo',
  clients: number,
  serverPid: number,
  url: string,
  roomPrefix: string,
): Promise<SteadyPoint> {
  const log = options.log ?? (() => {});
  const count = Math.max(1, Math.min(options.processes, clients));
  const rssIdleKb = residentKb(serverPid);
  const workers = Array.from({ length: count }, (_, index) =>
    clientProcess(group, `steady ${target} client ${index + 1}`),
  );
  try {
    await Promise.all(workers.map((worker) => worker.next('ready', 20_000)));
    const rampPerProcess = options.rampPerSecond / count;
    const share = (index: number): number => Math.floor(clients / count) + (index < clients % count ? 1 : 0);
    // Connecting takes clients ÷ ramp seconds; the bound leaves room for a slow, shared machine.
    const connectBoundMs = 30_000 + (clients / options.rampPerSecond) * 3000;
    workers.forEach((worker, index) => {
      worker.send({
        type: 'start',
        target,
        url,
        clients: share(index),
        roomPrefix: `${roomPrefix}-p${index}`,
        roomSize: 4,
        rampPerSecond: rampPerProcess,
        intervalMs: options.ping.intervalMs,
        timeoutMs: options.ping.timeoutMs,
      });
    });
    const connected = await Promise.all(workers.map((worker) => worker.next('connected', connectBoundMs)));
    const open = connected.reduce((sum, c) => sum + c.open, 0);
    const failed = connected.reduce((sum, c) => sum + c.failed, 0);
    const retries = connected.reduce((sum, c) => sum + c.retries, 0);
    const errors: Record<string, number> = {};
    for (const c of connected)
      for (const [code, n] of Object.entries(c.errors)) errors[code] = (errors[code] ?? 0) + n;
    log(
      `usher bench: steady ${target} ${clients}: ${open} open, ${failed} failed, ${retries} retried (${JSON.stringify(errors)})`,
    );
    // Every client pings once per interval: the warm-up is at least one full round.
    await sleep(Math.max(options.warmupMs, options.ping.intervalMs));
    for (const worker of workers) worker.send({ type: 'window-start' });
    const cpuStart = processCpuUs(serverPid) ?? 0;
    const coresStart = coreTimes();
    const started = performance.now();
    await sleep(options.durationMs);
    for (const worker of workers) worker.send({ type: 'window-end' });
    const cpuEnd = processCpuUs(serverPid) ?? 0;
    const coresEnd = coreTimes();
    const windowMs = performance.now() - started;
    const rssKb = residentKb(serverPid);
    const windows: SteadyWindow[] = await Promise.all(workers.map((worker) => worker.next('window', 20_000)));
    const rtt = new Histogram();
    for (const w of windows) rtt.merge(w.rttUs);
    const sum = (key: 'pings' | 'pongs' | 'late' | 'missing' | 'closed'): number =>
      windows.reduce((total, w) => total + w[key], 0);
    const pongs = sum('pongs');
    const point: SteadyPoint = {
      target,
      clients,
      open,
      failed,
      retries,
      errors,
      pings: sum('pings'),
      pongs,
      late: sum('late'),
      missing: sum('missing'),
      closed: sum('closed'),
      windowMs,
      serverCpuUsPerPing: pongs > 0 ? (cpuEnd - cpuStart) / pongs : Number.NaN,
      serverBusyPct: ((cpuEnd - cpuStart) / 1000 / windowMs) * 100,
      clientBusyPct: windows.reduce((total, w) => total + w.clientBusy, 0) * 100,
      coreBusyPct: coreBusy(coresStart, coresEnd).map((core) => Math.round(core.busy * 100)),
      rssIdleMb: rssIdleKb / 1024,
      rssMb: rssKb / 1024,
      rssKbPerClient: open > 0 ? (rssKb - rssIdleKb) / open : Number.NaN,
      rttP50Ms: rtt.quantile(0.5) / 1000,
      rttP99Ms: rtt.quantile(0.99) / 1000,
      rttMaxMs: rtt.max / 1000,
      sustained: false,
      loadAverage: loadAverage1(),
    };
    point.sustained =
      failed === 0 && point.late === 0 && point.missing === 0 && point.closed === 0 && pongs > 0;
    return point;
  } finally {
    for (const worker of workers) worker.send({ type: 'stop' });
    await Promise.all(
      workers.map((worker) =>
        Promise.race([worker.managed.exited, sleep(5000).then(() => group.kill(worker.managed))]),
      ),
    );
  }
}

/**
 * Each size against a fresh media server (one, behind its broker) and a fresh bare echo, so
 * the resident memory of one size does not carry into the next.
 */
export async function runSteady(group: ProcessGroup, options: SteadyOptions): Promise<SteadyPoint[]> {
  const points: SteadyPoint[] = [];
  const nodeFlags = options.nodeFlags ?? [];
  for (const [index, clients] of options.sizes.entries()) {
    let stack: UsherStack | undefined;
    let echo: SimpleServer | undefined;
    try {
      stack = await startUsherStack(group, {
        mediaCount: 1,
        logLevel: options.logLevel ?? 'info',
        nodeFlags,
        brokerArgs: [
          '--ping-interval-ms',
          String(options.ping.intervalMs),
          '--ping-timeout-ms',
          String(options.ping.timeoutMs),
        ],
        mediaArgs: ['--max-rooms', '1000000', '--max-peers', '1000000'],
      });
      const media = stack.media[0]!;
      points.push(
        await measureSize(
          group,
          options,
          'media',
          clients,
          media.process.pid,
          stack.brokerUrl,
          `steady${index}`,
        ),
      );
      echo = await startBenchServer(group, 'echo-server', ['--reply-bytes', '24'], nodeFlags);
      points.push(
        await measureSize(
          group,
          options,
          'echo',
          clients,
          echo.process.pid,
          `ws://127.0.0.1:${echo.port}/`,
          `steady${index}`,
        ),
      );
    } finally {
      for (const managed of [echo?.process, stack?.broker, ...(stack?.media.map((m) => m.process) ?? [])]) {
        if (managed !== undefined) await group.kill(managed);
      }
    }
  }
  return points;
}

export interface ControlPoint {
  /** Fake media servers asked for. */
  servers: number;
  registered: number;
  /** Control sockets the broker closed during the run (a missed heartbeat, a refusal). */
  closed: number;
  reportsPerSecond: number;
  /** Broker CPU over the window ÷ load reports (its idle work included). */
  brokerCpuUsPerReport: number;
  brokerBusyPct: number;
  loadAverage: number;
}

const FAKE_FLEET = fileURLToPath(new URL('./fake-fleet.ts', import.meta.url));

/** The broker's control channel with `sizes` fake media servers reporting at the default heartbeat. */
export async function runControlFleet(
  group: ProcessGroup,
  options: Pick<SteadyOptions, 'durationMs' | 'warmupMs' | 'logLevel' | 'nodeFlags' | 'log'> & {
    sizes: readonly number[];
  },
): Promise<ControlPoint[]> {
  const points: ControlPoint[] = [];
  for (const servers of options.sizes) {
    const stack = await startUsherStack(group, {
      mediaCount: 0,
      logLevel: options.logLevel ?? 'info',
      nodeFlags: options.nodeFlags ?? [],
    });
    try {
      const job: FakeFleetJob = {
        url: `ws://127.0.0.1:${stack.brokerPort}/v1/control`,
        secret: stack.secret,
        count: servers,
        warmupMs: Math.max(options.warmupMs, 1000),
        durationMs: options.durationMs,
        brokerPid: stack.broker.pid,
      };
      const result = await runInChild<FakeFleetResult>(group, {
        name: `fake fleet ${servers}`,
        role: 'client',
        script: FAKE_FLEET,
        job,
        timeoutMs: job.warmupMs + job.durationMs + 60_000,
      });
      points.push({
        servers,
        registered: result.registered,
        closed: result.closed,
        reportsPerSecond: result.reports / (result.windowMs / 1000),
        brokerCpuUsPerReport: result.reports > 0 ? result.brokerCpuUs / result.reports : Number.NaN,
        brokerBusyPct: (result.brokerCpuUs / 1000 / result.windowMs) * 100,
        loadAverage: loadAverage1(),
      });
      options.log?.(
        `usher bench: control channel, ${servers} fake media servers: ${result.registered} registered`,
      );
    } finally {
      await group.kill(stack.broker);
    }
  }
  return points;
}
