// Scenario scale: the broker's session service in process, in a child on the server core, by
// fleet size and pinned rooms, and the cost of each piece of a request and a join.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../orchestrate/load-runner.ts';
import type { ScaleResult } from '../scale/worker.ts';
import type { ScenarioContext } from './context.ts';

const SCALE_WORKER = fileURLToPath(new URL('../scale/worker.ts', import.meta.url));

export async function runScale(ctx: ScenarioContext): Promise<ScaleResult> {
  const quick = ctx.config.durationS <= 1;
  const fleets = quick ? [1, 50] : [1, 3, 10, 16, 17, 50];
  const roomCounts = quick ? [100, 10_000] : [100, 1000, 10_000, 100_000];
  const points = fleets.flatMap((servers) =>
    roomCounts
      // 16 and 17 straddle the switch from a full scan to power-of-two choices: one size is enough.
      .filter((rooms) => (servers === 16 || servers === 17 ? rooms === 10_000 : true))
      .map((rooms) => ({ servers, rooms })),
  );
  ctx.log(`usher bench: scale, ${points.length} sizes (servers × pinned rooms)`);
  return runInChild<ScaleResult>(ctx.group, {
    name: 'scale',
    role: 'server',
    script: SCALE_WORKER,
    nodeFlags: ['--expose-gc'],
    job: { points, requests: quick ? 500 : 5000 },
    timeoutMs: 600_000,
  });
}
