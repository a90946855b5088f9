// What every scenario is given (the run's config, its process group, its log) and the servers
// the load pairs measure, started once for all of them and stopped before the storm.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig, Scenario } from '../config.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import type { LoadJob } from '../loadgen/jobs.ts';
import {
  type SimpleServer,
  startBenchServer,
  startUsherStack,
  stopGracefully,
  type UsherStack,
} from '../orchestrate/servers.ts';
import { summarizeProfiles } from '../report/profile-summary.ts';

export interface ScenarioContext {
  config: BenchConfig;
  group: ProcessGroup;
  /** Node flags of every server process (`--cpu-prof` when profiling). */
  nodeFlags: string[];
  log: (line: string) => void;
  wants: (scenario: Scenario) => boolean;
}

/** The servers of the load pairs; each is there only if a chosen scenario needs it. */
export interface LoadServers {
  stack?: UsherStack;
  /** Bare ws server: the limit of assign. */
  echo?: SimpleServer;
  /** Bare Fastify route: the limit of http. */
  fastify?: SimpleServer;
  colyseus?: SimpleServer;
  /** Size of the broker's real reply, which the limits answer with too. */
  replyBytes: number;
}

export interface LoadContext extends ScenarioContext {
  servers: LoadServers;
}

export async function startLoadServers(ctx: ScenarioContext): Promise<LoadServers> {
  const { config, group, log, nodeFlags, wants } = ctx;
  let stack: UsherStack | undefined;
  if (wants('assign') || wants('http') || wants('peer')) {
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
  const servers: LoadServers = { replyBytes };
  if (stack !== undefined) servers.stack = stack;
  if (wants('limit'))
    servers.echo = await startBenchServer(
      group,
      'echo-server',
      ['--reply-bytes', String(replyBytes)],
      nodeFlags,
    );
  if (wants('http'))
    servers.fastify = await startBenchServer(
      group,
      'bare-fastify',
      ['--reply-bytes', String(replyBytes)],
      nodeFlags,
    );
  if (wants('peer'))
    servers.colyseus = await startBenchServer(group, 'colyseus-server', ['--room-size', '4'], nodeFlags);
  return servers;
}

/** Stops the load servers gracefully (so CPU profiles are written) and summarizes the profiles. */
export async function stopLoadServers(ctx: ScenarioContext, servers: LoadServers): Promise<void> {
  const { stack, echo, fastify, colyseus } = servers;
  for (const server of [
    stack?.broker,
    ...(stack?.media.map((m) => m.process) ?? []),
    echo?.process,
    fastify?.process,
    colyseus?.process,
  ]) {
    if (server !== undefined) await stopGracefully(ctx.group, server);
  }
  if (!ctx.config.profile) return;
  const names: Record<number, string> = {};
  if (stack !== undefined) {
    names[stack.broker.pid] = 'broker';
    for (const media of stack.media) names[media.process.pid] = `media ${media.id}`;
  }
  if (echo !== undefined) names[echo.process.pid] = 'bare ws (limit)';
  if (fastify !== undefined) names[fastify.process.pid] = 'bare Fastify (limit)';
  if (colyseus !== undefined) names[colyseus.process.pid] = 'Colyseus';
  const profiles = join(ctx.config.dir, 'profiles');
  const summary = summarizeProfiles(profiles, names);
  if (summary !== '') {
    writeFileSync(join(profiles, 'summary.txt'), summary);
    ctx.log(`usher bench: profile summary in ${join(profiles, 'summary.txt')}`);
  }
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

/** Upper bound of each request load's rate, for its operation cap (see `loadBounds`). */
const REQUEST_RATE_CAP = { 'ws-persistent': 200_000, 'ws-per-connection': 40_000, http: 100_000 } as const;

/** Concurrency, warm-up and window of every load, and an operation cap from its top rate. */
export function loadBounds(config: BenchConfig, maxPerSecond: number) {
  return {
    concurrency: config.clients,
    warmupMs: config.warmupS * 1000,
    durationMs: config.durationS * 1000,
    maxOps: Math.ceil(maxPerSecond * (config.durationS + config.warmupS * 2)),
  };
}

/** A request-per-op load (assign, limit, http and their calibrated twins), rooms of four. */
export function requestJob(
  config: BenchConfig,
  kind: 'ws-persistent' | 'ws-per-connection' | 'http',
  url: string,
  prefix: string,
  serverPids: number[],
): LoadJob {
  return {
    ...loadBounds(config, REQUEST_RATE_CAP[kind]),
    kind,
    url,
    rooms: { prefix, size: 4 },
    serverPids,
  };
}

/** Role of each of the Usher stack's processes (broker, media), for CPU by role. */
export const stackRoles = (stack: UsherStack | undefined) => (): Record<number, string> =>
  stack === undefined
    ? {}
    : Object.fromEntries([
        [stack.broker.pid, 'broker'],
        ...stack.media.map((media) => [media.process.pid, 'media'] as const),
      ]);

/** Role of a one-process server. */
export const singleRole = (server: SimpleServer | undefined, role: string) => (): Record<number, string> =>
  server === undefined ? {} : { [server.process.pid]: role };
