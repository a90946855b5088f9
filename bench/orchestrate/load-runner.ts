// Runs one job in its own process (a load generator on the client core, or an in-process
// measurement on the server core) and returns its result; the process is killed afterwards
// whatever happened, and after a hard deadline.
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, Role } from '../lib/processes.ts';
import type { LoadResult } from '../loadgen/closed-loop.ts';
import type { LoadJob } from '../loadgen/jobs.ts';

const LOAD_WORKER = fileURLToPath(new URL('../loadgen/worker.ts', import.meta.url));

type WorkerMessage<T> = { type: 'ready' } | { type: 'result'; result: T } | { type: 'failed'; error: string };

export interface ChildJob {
  name: string;
  role: Role;
  script: string;
  nodeFlags?: string[];
  /** Sent as { type: 'job', job } once the child says it is ready. */
  job: unknown;
  timeoutMs: number;
}

export async function runInChild<T>(group: ProcessGroup, spec: ChildJob): Promise<T> {
  const child = group.start(spec.name, {
    role: spec.role,
    ipc: true,
    nodeArgs: [...(spec.nodeFlags ?? []), '--import', 'tsx', spec.script],
  });
  const tail = (): string => child.tail.slice(-10).join('\n');
  try {
    return await new Promise<T>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`${spec.name}: no result within ${spec.timeoutMs} ms\n${tail()}`)),
        spec.timeoutMs,
      );
      child.child.on('message', (message: WorkerMessage<T>) => {
        if (message.type === 'ready') child.child.send({ type: 'job', job: spec.job });
        else if (message.type === 'result') {
          clearTimeout(deadline);
          resolve(message.result);
        } else if (message.type === 'failed') {
          clearTimeout(deadline);
          reject(new Error(`${spec.name} failed: ${message.error}`));
        }
      });
      void child.exited.then(({ code, signal }) => {
        clearTimeout(deadline);
        reject(new Error(`${spec.name} exited (code ${code}, signal ${signal}) without a result\n${tail()}`));
      });
    });
  } finally {
    await group.kill(child);
  }
}

export function runLoadJob(group: ProcessGroup, name: string, job: LoadJob): Promise<LoadResult> {
  return runInChild<LoadResult>(group, {
    name: `load ${name}`,
    role: 'client',
    script: LOAD_WORKER,
    job,
    // The job's own time plus start-up, drain and report.
    timeoutMs: job.warmupMs * 2 + job.durationMs + 30_000,
  });
}
