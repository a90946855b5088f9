// Load-generator process: receives one job over IPC, runs it on its own core, sends the
// result back and exits. Exits too when the orchestrator goes away (IPC disconnect).

import { serveOneJob } from '../lib/job-worker.ts';
import { type LoadResult, runClosedLoop } from './closed-loop.ts';
import { runHttpLoad } from './http-load.ts';
import type { LoadJob } from './jobs.ts';
import {
  type BuiltOperation,
  colyseusJoins,
  perConnectionRequests,
  persistentRequests,
  usherJoins,
} from './ops.ts';

function build(job: Exclude<LoadJob, { kind: 'http' }>): BuiltOperation {
  switch (job.kind) {
    case 'ws-persistent':
      return persistentRequests(job.url, job.rooms);
    case 'ws-per-connection':
      return perConnectionRequests(job.url, job.rooms);
    case 'usher-join':
      return usherJoins(job.host, job.port, job.rooms, job.keptHttp);
    case 'colyseus-join':
      return colyseusJoins(job.host, job.port, job.roomName, job.keptHttp);
  }
}

async function run(job: LoadJob): Promise<LoadResult> {
  if (job.kind === 'http') {
    return runHttpLoad({
      url: job.url,
      connections: job.concurrency,
      warmupMs: job.warmupMs,
      durationMs: job.durationMs,
      maxOps: job.maxOps,
      rooms: job.rooms,
      serverPids: job.serverPids,
    });
  }
  const built = build(job);
  return runClosedLoop(built.op, { ...job, cleanup: built.cleanup });
}

serveOneJob<LoadJob, Awaited<ReturnType<typeof run>>>('bench load worker', run);
