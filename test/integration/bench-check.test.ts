// `usher bench --check` end to end, in small (1 s windows, one round per side): the current tree
// against its own HEAD prints every guarded ratio and passes with a generous tolerance; Ctrl-C
// in the middle removes the base worktree and kills every process; a bad ref is a config error.
// Correctness only — the figures of one-second runs mean nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../shared/testing/wait.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'usher.mjs');
const TINY = [
  '--rounds',
  '1',
  '--duration-s',
  '1',
  '--warmup-s',
  '0',
  '--clients',
  '8',
  '--media-servers',
  '1',
  '--no-pin',
];

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The check in its own process group, so that the test can kill all of it if it fails. */
function startCheck(args: string[]): Run {
  const child = spawn(process.execPath, [bin, 'bench', ...args], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * After a failed test: Ctrl-C first, so the check removes its worktree and kills its runs'
 * process groups; then SIGKILL whatever is left, and remove the worktree by hand.
 */
async function stopCheck(run: Run): Promise<void> {
  let exited = run.child.exitCode !== null || run.child.signalCode !== null;
  void run.exited.then(() => {
    exited = true;
  });
  if (!exited) {
    run.child.kill('SIGINT');
    await waitUntil(() => exited, 'the check to stop on SIGINT', 20_000).catch(() => {});
  }
  for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
    try {
      process.kill(-run.child.pid!, signal);
    } catch {
      // already gone
    }
  }
  const worktree = worktreeOf(run.stderr());
  if (worktree === undefined || !existsSync(worktree)) return;
  for (const pid of processesIn(worktree)) {
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  }
  const modules = join(worktree, 'node_modules');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) unlinkSync(modules);
  spawnSync('git', ['-C', root, 'worktree', 'remove', '--force', worktree]);
  rmSync(dirname(worktree), { recursive: true, force: true });
}

/** Processes whose working directory is inside `dir` (the base side's bench and its servers). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const worktreeOf = (stderr: string): string | undefined => /--check: base worktree (\S+)/.exec(stderr)?.[1];

async function assertCleanedUp(worktree: string): Promise<void> {
  // SIGKILLed processes may take a moment to be gone from /proc.
  await waitUntil(() => processesIn(worktree).length === 0, 'no process left in the base worktree', 5000);
  assert.equal(existsSync(worktree), false, 'the base worktree folder is removed');
  const listed = execFileSync('git', ['-C', root, 'worktree', 'list', '--porcelain'], { encoding: 'utf8' });
  assert.ok(!listed.includes(worktree), 'git no longer lists the base worktree');
}

describe('usher bench --check', () => {
  test('HEAD against the current tree: every ratio in the table, exit 0', { timeout: 240_000 }, async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'usher-bench-check-test-'));
    const run = startCheck(['--check', 'HEAD', ...TINY, '--check-tolerance', '10', '--out', out]);
    t.after(async () => {
      await stopCheck(run);
      rmSync(out, { recursive: true, force: true });
    });
    const code = await run.exited;
    assert.equal(code, 0, `exit 0\n${run.stdout()}\n${run.stderr().slice(-3000)}`);
    const stdout = run.stdout();
    for (const id of ['assign.ws', 'assign.conn', 'http', 'peer', 'peer.cold']) {
      assert.match(stdout, new RegExp(`^${id.replace('.', '\\.')}: .* (ok|FAIL)`, 'm'), `row ${id}`);
    }
    assert.match(stdout, /regression guard passed/);
    const [folder] = readdirSync(out);
    const result = JSON.parse(readFileSync(join(out, folder!, 'check.json'), 'utf8')) as {
      runs: Array<{ side: string }>;
      rows: Array<{ id: string; baseMedian: number; headMedian: number; failed: boolean }>;
    };
    assert.deepEqual(
      result.runs.map((r) => r.side),
      ['base', 'head'],
    );
    assert.equal(result.rows.length, 5);
    for (const row of result.rows) {
      assert.ok(row.baseMedian > 0 && row.headMedian > 0, `${row.id} measured on both sides`);
      assert.equal(row.failed, false);
    }
    const worktree = worktreeOf(run.stderr());
    assert.ok(worktree !== undefined, 'the check names its base worktree');
    await assertCleanedUp(worktree);
  });

  test('Ctrl-C during the base run: worktree removed, every process killed, exit 130', {
    timeout: 60_000,
  }, async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'usher-bench-check-test-'));
    const run = startCheck(['--check', 'HEAD', ...TINY, '--out', out]);
    t.after(async () => {
      await stopCheck(run);
      rmSync(out, { recursive: true, force: true });
    });
    await waitUntil(
      () => /\[base 1\/1\] usher bench: assign\.ws round/.test(run.stderr()),
      'the base run under load',
      45_000,
    );
    const worktree = worktreeOf(run.stderr())!;
    assert.ok(processesIn(worktree).length >= 2, 'the base bench and its servers run in the worktree');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130);
    assert.match(run.stderr(), /stopped by SIGINT/);
    await assertCleanedUp(worktree);
  });

  test('a ref that is not a commit, and a scenario without ratios, are config errors', () => {
    const bad = spawnSync(process.execPath, [bin, 'bench', '--check', 'no-such-ref-xyz'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /"no-such-ref-xyz" is not a commit/);
    const storm = spawnSync(process.execPath, [bin, 'bench', '--check', 'HEAD', '--scenario', 'storm'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(storm.status, 2);
    assert.match(storm.stderr, /not storm/);
  });
});
