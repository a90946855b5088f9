// Child process for the scaling measurement: runs on the server core, receives the sizes
// over IPC, answers with one ScalePoint per size.

import { serveOneJob } from '../lib/job-worker.ts';
import { measurePoint, type ScalePoint } from './assign-scale.ts';
import { measureParts } from './parts.ts';

interface ScaleJob {
  points: Array<{ servers: number; rooms: number }>;
  requests: number;
}

export interface ScaleResult {
  points: ScalePoint[];
  /** µs per call of each piece of a request and a join. */
  parts: Record<string, number>;
}

async function run(job: ScaleJob): Promise<ScaleResult> {
  const points: ScalePoint[] = [];
  for (const point of job.points) points.push(await measurePoint(point.servers, point.rooms, job.requests));
  return { points, parts: await measureParts(job.requests * 10) };
}

serveOneJob<ScaleJob, Awaited<ReturnType<typeof run>>>('bench scale worker', run);
