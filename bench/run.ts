// The bench run: starts what the chosen scenarios need on the server core, measures each
// pair (Usher vs its limit or peer) in alternating rounds on the same cores, runs the storm
// phases on fresh stacks, and returns the report. Everything it started is stopped at the end.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram } from './lib/histogram.ts';
import { killOnExit, type PinPlan, ProcessGroup, planPinning } from './lib/processes.ts';
import type { LoadResult } from './loadgen/closed-loop.ts';
import type { LoadJob } from './loadgen/jobs.ts';
import { runInChild, runLoadJob } from './orchestrate/load-runner.ts';
import {
  type SimpleServer,
  startBenchServer,
  startUsherStack,
  stopGracefully,
  type UsherStack,
} from './orchestrate/servers.ts';
import { summarizeProfiles } from './report/profile-summary.ts';
import type { ScalePoint } from './scale/assign-scale.ts';
import type { ScaleResult } from './scale/worker.ts';
import { type FailureKind, runStormPhase, type StormPhaseResult } from './storm/run-storm.ts';

const SCALE_WORKER = fileURLToPath(new URL('./scale/worker.ts', import.meta.url));

export const SCENARIOS = ['assign', 'limit', 'http', 'peer', 'storm', 'scale'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchConfig {
  scenarios: ReadonlySet<Scenario>;
  durationS: number;
  warmupS: number;
  /** Concurrent client connections (closed loop) for assign, limit, http and peer. */
  clients: number;
  /** Media servers of the stack for assign, http and peer (the storm always starts 3). */
  mediaServers: number;
  rounds: number;
  stormClients: number;
  stormProcesses: number;
  stormFailures: readonly FailureKind[];
  /** Shorter ping/heartbeat timing for the storm (quick runs); undefined: the CLI's defaults. */
  stormTiming?: {
    ping: { intervalMs: number; timeoutMs: number };
    heartbeat: { intervalMs: number; timeoutMs: number };
  };
  pin: boolean;
  /** Run the servers with --cpu-prof, profiles into the run directory. */
  profile: boolean;
  /** Run directory (created). */
  dir: string;
  seed: number;
  logLevel: string;
  log: (line: string) => void;
}

export interface MeasurementSummary {
  id: string;
  label: string;
  system: string;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Median over rounds of server CPU µs ÷ operations. */
  cpuUsPerOp: number;
  /** Per server process role (broker, media, …), µs per operation (median over rounds). */
  cpuUsPerOpByRole: Record<string, number>;
  /** Server processes' CPU as a share of one core (median): near 100 % = server-bound. */
  serverBusyPct: number;
  clientBusyPct: number;
  /** Each core's busy share, median over rounds (other tenants of the machine show here). */
  coreBusyPct: number[];
  errors: number;
  errorCodes: Record<string, number>;
  rounds: Array<{ ops: number; opsPerSec: number; cpuUsPerOp: number; windowMs: number }>;
}

/**
 * What the method makes of known extra work: a bare limit run again with busy CPU added to
 * each request so that it does exactly the target's multiple of its own work (twice, or 1.5
 * times) — the costliest server that would still meet the target in work done.
 */
export interface CalibrationSummary {
  /** The bare measurement it repeats, e.g. `limit.ws`. */
  reference: string;
  /** Its calibrated twin, e.g. `limit.ws.x2`. */
  id: string;
  /** The Usher measurement the target compares with the reference, e.g. `assign.ws`. */
  usher: string;
  /** Work multiple the twin does: the target (2 or 1.5). */
  factor: number;
  /** Busy µs added per request: (factor − 1) × the reference's median CPU µs per op. */
  workUs: number;
  /** Twin ÷ reference, server CPU µs per op: `factor` would mean the method adds nothing. */
  ratio: number;
  /** Usher ÷ twin: ≤ 1 ⇒ Usher spends no more CPU per op than a server doing `factor`× the work. */
  usherVsTwin: number;
}

export interface RatioSummary {
  id: string;
  label: string;
  /** How the value is formed, e.g. "assign.ws ÷ limit.ws (CPU µs per op)". */
  formula: string;
  value: number;
  target: string;
  met: boolean;
}

export interface BenchReport {
  version: 1;
  date: string;
  machine: { cores: number; model: string; node: string; kernel: string; platform: string };
  pinning: string;
  config: Omit<BenchConfig, 'log' | 'scenarios'> & { scenarios: Scenario[] };
  measurements: MeasurementSummary[];
  ratios: RatioSummary[];
  /** Absent in reports from before 2026-11-27. */
  calibration?: CalibrationSummary[];
  storm: StormPhaseResult[];
  /** Broker cost by fleet and room count (in-process, no sockets). */
  scale: ScalePoint[];
  /** µs per call of each piece of a session request and a join (in-process). */
  parts: Record<string, number>;
  notes: string[];
}

interface Side {
  id: string;
  label: string;
  system: string;
  job: (round: number) => LoadJob;
  roles: () => Record<number, string>;
}

interface Pair {
  usher: Side;
  reference: Side;
}

const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function summarize(
  id: string,
  label: string,
  system: string,
  results: LoadResult[],
  roles: Record<number, string>,
): MeasurementSummary {
  const latency = new Histogram();
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  let ops = 0;
  const external: Array<{ p50: number; p99: number; p999: number }> = [];
  for (const result of results) {
    latency.merge(result.latency);
    errors += result.errors;
    ops += result.ops;
    for (const [code, count] of Object.entries(result.errorCodes))
      errorCodes[code] = (errorCodes[code] ?? 0) + count;
    if (result.percentilesUs !== undefined) external.push(result.percentilesUs);
  }
  const cpuOf = (result: LoadResult): number => Object.values(result.serverCpuUs).reduce((a, b) => a + b, 0);
  const byRole = (result: LoadResult): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [pid, us] of Object.entries(result.serverCpuUs)) {
      const role = roles[Number(pid)] ?? 'server';
      out[role] = (out[role] ?? 0) + us / Math.max(1, result.ops);
    }
    return out;
  };
  // Only the roles whose processes were charged (assign charges the broker, not the media).
  const charged = new Set(results.flatMap((result) => Object.keys(result.serverCpuUs).map(Number)));
  const roleNames = [...new Set([...charged].map((pid) => roles[pid] ?? 'server'))];
  const quantileMs = (q: number, key: 'p50' | 'p99' | 'p999'): number =>
    external.length > 0 ? median(external.map((e) => e[key])) / 1000 : latency.quantile(q) / 1000;
  const cores = results[0]?.cores.length ?? 0;
  return {
    id,
    label,
    system,
    ops,
    opsPerSec: median(results.map((r) => (r.ops / r.windowMs) * 1000)),
    p50Ms: quantileMs(0.5, 'p50'),
    p99Ms: quantileMs(0.99, 'p99'),
    p999Ms: quantileMs(0.999, 'p999'),
    cpuUsPerOp: median(results.map((r) => cpuOf(r) / Math.max(1, r.ops))),
    cpuUsPerOpByRole: Object.fromEntries(
      roleNames.map((role) => [role, median(results.map((r) => byRole(r)[role] ?? 0))]),
    ),
    serverBusyPct: median(results.map((r) => (cpuOf(r) / 1000 / r.windowMs) * 100)),
    clientBusyPct: median(results.map((r) => (r.clientCpuUs / 1000 / r.windowMs) * 100)),
    coreBusyPct: Array.from({ length: cores }, (_, core) =>
      median(results.map((r) => (r.cores[core]?.busy ?? 0) * 100)),
    ),
    errors,
    errorCodes,
    rounds: results.map((r) => ({
      ops: r.ops,
      opsPerSec: (r.ops / r.windowMs) * 1000,
      cpuUsPerOp: cpuOf(r) / Math.max(1, r.ops),
      windowMs: r.windowMs,
    })),
  };
}

export async function runBenchmarks(config: BenchConfig): Promise<BenchReport> {
  const { log } = config;
  mkdirSync(config.dir, { recursive: true });
  const pin: PinPlan = planPinning(config.pin);
  const group = new ProcessGroup(pin);
  const removeExitHandlers = killOnExit(group);
  const notes: string[] = [];
  const measurements: MeasurementSummary[] = [];
  const calibration: CalibrationSummary[] = [];
  const storm: StormPhaseResult[] = [];
  let scale: ScalePoint[] = [];
  let parts: Record<string, number> = {};
  const nodeFlags = config.profile ? ['--cpu-prof', '--cpu-prof-dir', join(config.dir, 'profiles')] : [];
  log(`usher bench: ${pin.note}`);
  try {
    const wants = (scenario: Scenario): boolean => config.scenarios.has(scenario);
    const needsStack = wants('assign') || wants('http') || wants('peer');
    let stack: UsherStack | undefined;
    let echo: SimpleServer | undefined;
    let fastify: SimpleServer | undefined;
    let colyseus: SimpleServer | undefined;
    if (needsStack) {
      stack = await startUsherStack(group, {
        mediaCount: config.mediaServers,
        logLevel: config.logLevel,
        nodeFlags,
        // Room for every session the load creates: the measure is the cost, not the cap.
        mediaArgs: ['--max-rooms', '1000000', '--max-peers', '1000000'],
      });
      log(`usher bench: broker ${stack.brokerUrl}, media ${stack.media.map((m) => m.id).join(', ')}`);
    }
    // The limit's reply is as long as the broker's real one, so both send the same bytes.
    const replyBytes = stack === undefined ? 900 : await sampleReplyBytes(stack);
    if (wants('limit'))
      echo = await startBenchServer(group, 'echo-server', ['--reply-bytes', String(replyBytes)], nodeFlags);
    if (wants('http'))
      fastify = await startBenchServer(
        group,
        'bare-fastify',
        ['--reply-bytes', String(replyBytes)],
        nodeFlags,
      );
    if (wants('peer'))
      colyseus = await startBenchServer(group, 'colyseus-server', ['--room-size', '4'], nodeFlags);

    const durationMs = config.durationS * 1000;
    const warmupMs = config.warmupS * 1000;
    const bounds = (maxPerSecond: number) => ({
      concurrency: config.clients,
      warmupMs,
      durationMs,
      maxOps: Math.ceil(maxPerSecond * (config.durationS + config.warmupS * 2)),
    });
    /** The request-per-op loads (assign, limit, http and their twins), rooms of four. */
    const requestJob = (
      kind: 'ws-persistent' | 'ws-per-connection' | 'http',
      url: string,
      prefix: string,
      serverPids: number[],
    ): LoadJob => ({
      ...bounds(REQUEST_RATE_CAP[kind]),
      kind,
      url,
      rooms: { prefix, size: 4 },
      serverPids,
    });
    const stackRoles = (): Record<number, string> =>
      stack === undefined
        ? {}
        : Object.fromEntries([
            [stack.broker.pid, 'broker'],
            ...stack.media.map((media) => [media.process.pid, 'media'] as const),
          ]);
    const single = (server: SimpleServer | undefined, role: string) => (): Record<number, string> =>
      server === undefined ? {} : { [server.process.pid]: role };
    const brokerWs = stack === undefined ? '' : `ws://127.0.0.1:${stack.brokerPort}/v1/session`;
    const echoWs = echo === undefined ? '' : `ws://127.0.0.1:${echo.port}/v1/session`;

    const pairs: Array<{ wanted: boolean; pair: Partial<Pair> & { name: string } }> = [
      {
        wanted: wants('assign') || wants('limit'),
        pair: {
          name: 'kept WebSocket',
          ...(wants('assign') && stack !== undefined
            ? {
                usher: {
                  id: 'assign.ws',
                  label: 'assign: session.request over a kept WebSocket',
                  system: 'usher',
                  roles: stackRoles,
                  job: (round) => requestJob('ws-persistent', brokerWs, `aw${round}`, [stack!.broker.pid]),
                },
              }
            : {}),
          ...(wants('limit') && echo !== undefined
            ? {
                reference: {
                  id: 'limit.ws',
                  label: 'limit: bare ws, parse + fixed reply, kept WebSocket',
                  system: 'ws',
                  roles: single(echo, 'ws'),
                  job: (round) => requestJob('ws-persistent', echoWs, `lw${round}`, [echo!.process.pid]),
                },
              }
            : {}),
        },
      },
      {
        wanted: wants('assign') || wants('limit'),
        pair: {
          name: 'new WebSocket per request',
          ...(wants('assign') && stack !== undefined
            ? {
                usher: {
                  id: 'assign.conn',
                  label: 'assign: new WebSocket per request (connect, request, close)',
                  system: 'usher',
                  roles: stackRoles,
                  job: (round) =>
                    requestJob('ws-per-connection', brokerWs, `ac${round}`, [stack!.broker.pid]),
                },
              }
            : {}),
          ...(wants('limit') && echo !== undefined
            ? {
                reference: {
                  id: 'limit.conn',
                  label: 'limit: bare ws connect, request, close',
                  system: 'ws',
                  roles: single(echo, 'ws'),
                  job: (round) => requestJob('ws-per-connection', echoWs, `lc${round}`, [echo!.process.pid]),
                },
              }
            : {}),
        },
      },
      {
        wanted: wants('http') && stack !== undefined && fastify !== undefined,
        pair: {
          name: 'HTTP',
          usher: {
            id: 'http.usher',
            label: 'http: POST /v1/sessions (autocannon, kept connections)',
            system: 'usher',
            roles: stackRoles,
            job: (round) => requestJob('http', stack!.brokerUrl, `h${round}`, [stack!.broker.pid]),
          },
          reference: {
            id: 'http.fastify',
            label: 'http limit: bare Fastify route, same reply size',
            system: 'fastify',
            roles: single(fastify, 'fastify'),
            job: (round) =>
              requestJob('http', `http://127.0.0.1:${fastify!.port}`, `hf${round}`, [fastify!.process.pid]),
          },
        },
      },
      ...[true, false].map((kept) => ({
        wanted: wants('peer') && stack !== undefined && colyseus !== undefined,
        pair: {
          name: kept ? 'full join' : 'cold full join',
          usher: {
            id: kept ? 'peer.usher' : 'peer.usher.cold',
            label: `join: POST /v1/sessions (${kept ? 'kept' : 'new'} HTTP connection) + media WebSocket + join/joined, close`,
            system: 'usher',
            roles: stackRoles,
            job: (round: number): LoadJob => ({
              ...bounds(10_000),
              kind: 'usher-join',
              host: '127.0.0.1',
              port: stack!.brokerPort,
              rooms: { prefix: `j${kept ? 'k' : 'c'}${round}`, size: 4 },
              keptHttp: kept,
              serverPids: stack!.pids(),
            }),
          },
          reference: {
            id: kept ? 'peer.colyseus' : 'peer.colyseus.cold',
            label: `Colyseus 0.18: POST matchmake (${kept ? 'kept' : 'new'} HTTP connection) + room WebSocket + JOIN_ROOM/ack, close`,
            system: 'colyseus',
            roles: single(colyseus, 'colyseus'),
            job: (): LoadJob => ({
              ...bounds(10_000),
              kind: 'colyseus-join',
              host: '127.0.0.1',
              port: colyseus!.port,
              roomName: 'bench',
              keptHttp: kept,
              serverPids: [colyseus!.process.pid],
            }),
          },
        },
      })),
    ];

    for (const { wanted, pair } of pairs) {
      if (!wanted) continue;
      const sides = [pair.usher, pair.reference].filter((side) => side !== undefined);
      const results = new Map<string, LoadResult[]>(sides.map((side) => [side.id, []]));
      for (let round = 0; round < config.rounds; round += 1) {
        // Alternate which side goes first, so drift of the machine's load hits both alike.
        const order = round % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          log(`usher bench: ${side.id} round ${round + 1}/${config.rounds}`);
          results.get(side.id)!.push(await runLoadJob(group, side.id, side.job(round)));
        }
      }
      for (const side of sides) {
        const summary = summarize(side.id, side.label, side.system, results.get(side.id)!, side.roles());
        measurements.push(summary);
        log(
          `usher bench: ${side.id}: ${Math.round(summary.opsPerSec)} ops/s, ${summary.cpuUsPerOp.toFixed(1)} µs CPU/op, p99 ${summary.p99Ms.toFixed(2)} ms`,
        );
      }
    }

    // Each bare limit again, with busy work added so that it does the target's multiple of its
    // own work: what that measures here (on loopback a slower server also pays to wake its
    // idle client, so more than the multiple). Only for the pairs this run measured.
    const twins: Array<{
      reference: string;
      script: 'echo-server' | 'bare-fastify';
      role: string;
      job: (port: number, pid: number, round: number) => LoadJob;
    }> = [
      {
        reference: 'limit.ws',
        script: 'echo-server',
        role: 'ws',
        job: (port, pid, round) =>
          requestJob('ws-persistent', `ws://127.0.0.1:${port}/v1/session`, `xw${round}`, [pid]),
      },
      {
        reference: 'limit.conn',
        script: 'echo-server',
        role: 'ws',
        job: (port, pid, round) =>
          requestJob('ws-per-connection', `ws://127.0.0.1:${port}/v1/session`, `xc${round}`, [pid]),
      },
      {
        reference: 'http.fastify',
        script: 'bare-fastify',
        role: 'fastify',
        job: (port, pid, round) => requestJob('http', `http://127.0.0.1:${port}`, `xh${round}`, [pid]),
      },
    ];
    for (const { reference, script, role, job } of twins) {
      const bare = measurements.find((m) => m.id === reference);
      const spec = RATIO_SPECS.find((s) => s.reference === reference && s.atMost);
      const usher = measurements.find((m) => m.id === spec?.usher);
      if (bare === undefined || spec === undefined || usher === undefined) continue;
      const factor = spec.target;
      const id = `${reference}.x${factor}`;
      const workUs = Math.round((factor - 1) * bare.cpuUsPerOp * 10) / 10;
      const twin = await startBenchServer(
        group,
        script,
        ['--reply-bytes', String(replyBytes), '--work-us', String(workUs)],
        nodeFlags,
      );
      const results: LoadResult[] = [];
      for (let round = 0; round < config.rounds; round += 1) {
        log(
          `usher bench: ${id} (calibration, +${workUs} µs busy per request) round ${round + 1}/${config.rounds}`,
        );
        results.push(await runLoadJob(group, id, job(twin.port, twin.process.pid, round)));
      }
      await stopGracefully(group, twin.process);
      const summary = summarize(
        id,
        `calibration: ${reference} + ${workUs} µs busy CPU per request (${factor}× its work)`,
        bare.system,
        results,
        { [twin.process.pid]: role },
      );
      measurements.push(summary);
      const ratio = summary.cpuUsPerOp / bare.cpuUsPerOp;
      const usherVsTwin = usher.cpuUsPerOp / summary.cpuUsPerOp;
      calibration.push({ reference, id, usher: usher.id, factor, workUs, ratio, usherVsTwin });
      log(
        `usher bench: ${id}: ${summary.cpuUsPerOp.toFixed(1)} µs CPU/op, ${ratio.toFixed(2)}× ${reference}; ${usher.id} is ${usherVsTwin.toFixed(2)}× it`,
      );
    }

    for (const server of [
      stack?.broker,
      ...(stack?.media.map((m) => m.process) ?? []),
      echo?.process,
      fastify?.process,
      colyseus?.process,
    ]) {
      if (server !== undefined) await stopGracefully(group, server);
    }
    if (config.profile) {
      const names: Record<number, string> = {};
      if (stack !== undefined) {
        names[stack.broker.pid] = 'broker';
        for (const media of stack.media) names[media.process.pid] = `media ${media.id}`;
      }
      if (echo !== undefined) names[echo.process.pid] = 'bare ws (limit)';
      if (fastify !== undefined) names[fastify.process.pid] = 'bare Fastify (limit)';
      if (colyseus !== undefined) names[colyseus.process.pid] = 'Colyseus';
      const profiles = join(config.dir, 'profiles');
      const summary = summarizeProfiles(profiles, names);
      if (summary !== '') {
        writeFileSync(join(profiles, 'summary.txt'), summary);
        log(`usher bench: profile summary in ${join(profiles, 'summary.txt')}`);
      }
    }

    if (wants('storm')) {
      for (const failure of config.stormFailures) {
        log(`usher bench: storm ${failure}, ${config.stormClients} clients`);
        storm.push(
          await runStormPhase(group, {
            clients: config.stormClients,
            failure,
            processes: config.stormProcesses,
            seed: config.seed,
            logLevel: config.logLevel,
            nodeFlags,
            log,
            ...(config.stormTiming ?? {}),
          }),
        );
      }
    }
    if (wants('scale')) {
      const quick = config.durationS <= 1;
      const fleets = quick ? [1, 50] : [1, 3, 10, 16, 17, 50];
      const roomCounts = quick ? [100, 10_000] : [100, 1000, 10_000, 100_000];
      const points = fleets.flatMap((servers) =>
        roomCounts
          // 16 and 17 straddle the switch from a full scan to power-of-two choices: one size is enough.
          .filter((rooms) => (servers === 16 || servers === 17 ? rooms === 10_000 : true))
          .map((rooms) => ({ servers, rooms })),
      );
      log(`usher bench: scale, ${points.length} sizes (servers × pinned rooms)`);
      ({ points: scale, parts } = await runInChild<ScaleResult>(group, {
        name: 'scale',
        role: 'server',
        script: SCALE_WORKER,
        nodeFlags: ['--expose-gc'],
        job: { points, requests: quick ? 500 : 5000 },
        timeoutMs: 600_000,
      }));
    }
    if (!pin.enabled)
      notes.push(`Processes were not pinned (${pin.note}): CPU per op is still valid, throughput less so.`);
  } finally {
    await group.killAll();
    removeExitHandlers();
  }

  return {
    version: 1,
    date: new Date().toISOString(),
    machine: machineInfo(),
    pinning: pin.note,
    config: { ...configForReport(config) },
    measurements,
    ratios: ratios(measurements),
    calibration,
    storm,
    scale,
    parts,
    notes,
  };
}

async function sampleReplyBytes(stack: UsherStack): Promise<number> {
  const response = await fetch(`${stack.brokerUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'session.request',
      v: 1,
      id: 'sample',
      room: 'bench-sample',
      name: 'bench',
    }),
  });
  return Buffer.byteLength(await response.text());
}

function configForReport(config: BenchConfig): BenchReport['config'] {
  const { log: _log, scenarios, ...rest } = config;
  return { ...rest, scenarios: [...scenarios] };
}

export function machineInfo(): BenchReport['machine'] {
  return {
    cores: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    platform: process.platform,
  };
}

/** Upper bound of each request load's rate, for its operation cap (see `bounds`). */
const REQUEST_RATE_CAP = { 'ws-persistent': 200_000, 'ws-per-connection': 40_000, http: 100_000 } as const;

const RATIO_SPECS: Array<{
  id: string;
  label: string;
  usher: string;
  reference: string;
  target: number;
  atMost: boolean;
}> = [
  {
    id: 'assign.ws',
    label: 'assign over a kept WebSocket vs bare ws',
    usher: 'assign.ws',
    reference: 'limit.ws',
    target: 2,
    atMost: true,
  },
  {
    id: 'assign.conn',
    label: 'new-connection assign vs bare ws connect-request-close',
    usher: 'assign.conn',
    reference: 'limit.conn',
    target: 1.5,
    atMost: true,
  },
  {
    id: 'http',
    label: 'HTTP assign vs bare Fastify route',
    usher: 'http.usher',
    reference: 'http.fastify',
    target: 2,
    atMost: true,
  },
  {
    id: 'peer',
    label: 'joins per server-CPU-second, Usher vs Colyseus',
    usher: 'peer.usher',
    reference: 'peer.colyseus',
    target: 2.5,
    atMost: false,
  },
  {
    id: 'peer.cold',
    label: 'same, with the POST on a new connection too',
    usher: 'peer.usher.cold',
    reference: 'peer.colyseus.cold',
    target: 2.5,
    atMost: false,
  },
];

export function ratios(measurements: readonly MeasurementSummary[]): RatioSummary[] {
  const byId = new Map(measurements.map((m) => [m.id, m]));
  const out: RatioSummary[] = [];
  for (const spec of RATIO_SPECS) {
    const usher = byId.get(spec.usher);
    const reference = byId.get(spec.reference);
    if (usher === undefined || reference === undefined) continue;
    // "At most" ratios: Usher's cost over the limit's. The peer ratio is joins per CPU-second,
    // i.e. the peer's cost per join over Usher's.
    const value = spec.atMost
      ? usher.cpuUsPerOp / reference.cpuUsPerOp
      : reference.cpuUsPerOp / usher.cpuUsPerOp;
    out.push({
      id: spec.id,
      label: spec.label,
      formula: spec.atMost
        ? `${spec.usher} ÷ ${spec.reference} (server CPU µs per op)`
        : `${spec.reference} ÷ ${spec.usher} (server CPU µs per join)`,
      value,
      target: `${spec.atMost ? '≤' : '≥'} ${spec.target}`,
      met: spec.atMost ? value <= spec.target : value >= spec.target,
    });
  }
  return out;
}
