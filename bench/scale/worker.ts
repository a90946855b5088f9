// Child process for the scaling measurement: runs on the server core, receives the sizes
// over IPC, answers with one ScalePoint per size.
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

if (process.send === undefined) {
  console.error('bench scale worker: must be started by the bench with an IPC channel');
  process.exit(2);
}
process.on('disconnect', () => process.exit(1));
process.on('message', (message: { type: string; job?: ScaleJob }) => {
  if (message.type !== 'job' || message.job === undefined) return;
  run(message.job).then(
    (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
    (error: Error) =>
      process.send!({ type: 'failed', error: error.stack ?? error.message }, () => process.exit(1)),
  );
});
process.send({ type: 'ready' });
