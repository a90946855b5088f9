import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../../shared/testing/wait.ts';
import { Supervisor } from './supervisor.ts';

test('a child that keeps dying is restarted with a doubling delay, capped; stopAll ends the restarts', async (t) => {
  const said: string[] = [];
  const supervisor = new Supervisor({
    onLine: () => {},
    say: (message) => said.push(message),
    restartDelayMs: 20,
    maxRestartDelayMs: 80,
    stableMs: 60_000,
  });
  t.after(() => supervisor.stopAll());
  // Ready at its first line, then it exits: every restart is a quick death.
  const child = await supervisor.start({
    name: 'flaky',
    command: process.execPath,
    args: ['-e', 'console.log("up"); setTimeout(() => process.exit(3), 20)'],
    env: { PATH: process.env.PATH ?? '' },
    ready: (line) => line === 'up',
  });
  await waitUntil(() => child.restarts >= 4, 'four restarts', 20_000);
  const delays = said
    .map((message) => /exited \(code 3\); restarting in ([\d.]+) s/.exec(message)?.[1])
    .filter((delay) => delay !== undefined)
    .map(Number);
  assert.deepEqual(delays.slice(0, 4), [0.02, 0.04, 0.08, 0.08]);
  await supervisor.stopAll();
  const restarts = child.restarts;
  const stoppedAt = said.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(child.restarts, restarts, 'no restart after stopAll');
  assert.equal(said.length, stoppedAt);
  assert.equal(child.pid, undefined);
});

test('a child that dies before it is ready fails the start instead of looping', async () => {
  const supervisor = new Supervisor({ onLine: () => {}, say: () => {} });
  await assert.rejects(
    supervisor.start({
      name: 'broken',
      command: process.execPath,
      args: ['-e', 'process.exit(2)'],
      env: { PATH: process.env.PATH ?? '' },
      ready: () => false,
    }),
    /broken exited before it was ready \(code 2\)/,
  );
  await supervisor.stopAll();
});
