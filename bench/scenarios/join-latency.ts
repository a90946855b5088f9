// Scenario joins: join latency as a person feels it — from the first session request (a POST on
// a new connection, as a browser makes it) to `joined` on the media server — with the broker
// and media servers idle, at half and at nine tenths of the join rate they sustain, that rate
// measured first in the same run (closed loop, `--clients` joins in flight).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram } from '../lib/histogram.ts';
import type { LoadResult } from '../loadgen/closed-loop.ts';
import type { LoadJob } from '../loadgen/jobs.ts';
import { runLoadJob } from '../orchestrate/load-runner.ts';
import { startUsherStack, stopGracefully } from '../orchestrate/servers.ts';
import { summarizeProfiles } from '../report/profile-summary.ts';
import type { ScenarioContext } from './context.ts';

export interface JoinLatencyPoint {
  /** `max` is the closed-loop run that measures the sustainable rate. */
  load: 'max' | 'idle' | '50 %' | '90 %';
  /** Joins per second asked for (open loop); for `max`, none. */
  targetPerSecond: number | null;
  joinsPerSecond: number;
  joins: number;
  errors: number;
  errorCodes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  cpuUsPerJoin: { broker: number; media: number };
  serverBusyPct: number;
  clientBusyPct: number;
}

/** Open-loop rate standing for "no other joins": one at a time, in practice. */
const IDLE_RATE = 20;
/** Most joins in flight in the open-loop runs (a bound, not a target). */
const OPEN_LOOP_IN_FLIGHT = 2000;

export async function runJoinLatency(ctx: ScenarioContext): Promise<JoinLatencyPoint[]> {
  const { config, group, log, nodeFlags } = ctx;
  const stack = await startUsherStack(group, {
    mediaCount: config.mediaServers,
    logLevel: config.logLevel,
    nodeFlags,
    mediaArgs: ['--max-rooms', '1000000', '--max-peers', '1000000'],
  });
  const brokerPid = stack.broker.pid;
  const points: JoinLatencyPoint[] = [];
  try {
    const job = (prefix: string, ratePerSecond?: number): LoadJob => {
      const durationMs = config.durationS * 1000;
      const warmupMs = config.warmupS * 1000;
      return {
        kind: 'usher-join',
        host: stack.brokerHost,
        port: stack.brokerPort,
        rooms: { prefix, size: 4 },
        keptHttp: false,
        concurrency: ratePerSecond === undefined ? config.clients : OPEN_LOOP_IN_FLIGHT,
        warmupMs,
        durationMs,
        maxOps: Math.ceil((ratePerSecond ?? 20_000) * (config.durationS + config.warmupS * 2 + 1)),
        serverPids: stack.pids(),
        ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
      };
    };
    const summarize = (
      load: JoinLatencyPoint['load'],
      target: number | null,
      result: LoadResult,
    ): JoinLatencyPoint => {
      const latency = Histogram.from(result.latency);
      let broker = 0;
      let media = 0;
      for (const [pid, us] of Object.entries(result.serverCpuUs)) {
        if (Number(pid) === brokerPid) broker += us;
        else media += us;
      }
      const joins = Math.max(1, result.ops);
      return {
        load,
        targetPerSecond: target,
        joinsPerSecond: result.ops / (result.windowMs / 1000),
        joins: result.ops,
        errors: result.errors,
        errorCodes: result.errorCodes,
        p50Ms: latency.quantile(0.5) / 1000,
        p99Ms: latency.quantile(0.99) / 1000,
        p999Ms: latency.quantile(0.999) / 1000,
        maxMs: latency.max / 1000,
        cpuUsPerJoin: { broker: broker / joins, media: media / joins },
        serverBusyPct: ((broker + media) / 1000 / result.windowMs) * 100,
        clientBusyPct: (result.clientCpuUs / 1000 / result.windowMs) * 100,
      };
    };
    log(`usher bench: joins — sustainable rate, ${config.clients} in flight`);
    const max = summarize('max', null, await runLoadJob(group, 'joins.max', job('joins-max')));
    points.push(max);
    const rate = max.joinsPerSecond;
    for (const [load, target] of [
      ['idle', IDLE_RATE],
      ['50 %', Math.max(1, Math.round(rate * 0.5))],
      ['90 %', Math.max(1, Math.round(rate * 0.9))],
    ] as const) {
      log(`usher bench: joins — ${load} (${target}/s)`);
      points.push(
        summarize(
          load,
          target,
          await runLoadJob(group, `joins.${load}`, job(`joins-${points.length}`, target)),
        ),
      );
    }
  } finally {
    for (const managed of [stack.broker, ...stack.media.map((m) => m.process)])
      await stopGracefully(group, managed);
  }
  if (config.profile) {
    // With --profile: where the broker's and the media servers' join CPU goes.
    const names: Record<number, string> = { [brokerPid]: 'broker (joins)' };
    for (const media of stack.media) names[media.process.pid] = `media ${media.id} (joins)`;
    const profiles = join(config.dir, 'profiles');
    const summary = summarizeProfiles(profiles, names);
    if (summary !== '') {
      writeFileSync(join(profiles, 'summary-joins.txt'), summary);
      log(`usher bench: join profile summary in ${join(profiles, 'summary-joins.txt')}`);
    }
  }
  return points;
}
