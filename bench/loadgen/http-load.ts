// HTTP load with autocannon (kept connections, one request in flight each): POST
// /v1/sessions with a fresh request id and room-of-N names, server CPU read around the run.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { coreBusy, coreTimes, cpuByPid } from '../lib/proc-cpu.ts';
import type { LoadResult } from './closed-loop.ts';
import { type RoomSpec, sessionRequestText } from './ops.ts';

export interface HttpLoadOptions {
  url: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  maxOps: number;
  rooms: RoomSpec;
  serverPids: number[];
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<LoadResult> {
  let seq = 0;
  const run = (durationMs: number, maxOps: number) =>
    autocannon({
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      duration: durationMs / 1000,
      maxOverallRequests: Math.max(options.connections, maxOps),
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/v1/sessions',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => {
            request.body = sessionRequestText(options.rooms, seq);
            seq += 1;
            return request;
          },
        },
      ],
    });
  if (options.warmupMs > 0) await run(options.warmupMs, Math.floor(options.maxOps / 4));
  const cpuStart = cpuByPid(options.serverPids);
  const coresStart = coreTimes();
  const clientStart = process.cpuUsage();
  const t0 = performance.now();
  const result = await run(options.durationMs, options.maxOps);
  const windowMs = performance.now() - t0;
  const cpuEnd = cpuByPid(options.serverPids);
  const cores = coreBusy(coresStart, coreTimes());
  const client = process.cpuUsage(clientStart);
  const ok = result['2xx'];
  const errorCodes: Record<string, number> = {};
  if (result.non2xx > 0) errorCodes.NON_2XX = result.non2xx;
  if (result.errors > 0) errorCodes.SOCKET = result.errors;
  if (result.timeouts > 0) errorCodes.TIMEOUT = result.timeouts;
  // autocannon keeps its own histogram (ms); carry its percentiles in µs as a 3-point sketch.
  const toUs = (ms: number): number => ms * 1000;
  return {
    ops: ok,
    errors: result.non2xx + result.errors + result.timeouts,
    errorCodes,
    started: seq,
    windowMs,
    serverCpuUs: Object.fromEntries(
      Object.entries(cpuEnd).map(([pid, us]) => [pid, us - (cpuStart[Number(pid)] ?? 0)]),
    ),
    clientCpuUs: client.user + client.system,
    cores,
    latency: {
      count: ok,
      min: 0,
      max: toUs(result.latency.max),
      sum: toUs(result.latency.average) * ok,
      buckets: [],
    },
    percentilesUs: {
      p50: toUs(result.latency.p50),
      p99: toUs(result.latency.p99),
      p999: toUs(result.latency.p99_9),
    },
    countBound: seq >= options.maxOps,
    abandoned: 0,
  };
}
