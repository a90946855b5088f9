// `usher bench --check BASE_REF`: the base commit in a temporary git worktree, each side's own
// `usher bench` run in alternating rounds on the same machine, their reports compared ratio by
// ratio (compare.ts). The worktree and every process are removed at the end, on failure and on
// Ctrl-C.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UsherConfigError } from '../../server/common/config-error.ts';
import type { MeasurementSummary } from '../report/types.ts';
import {
  type CheckRow,
  compareRatios,
  contendedMeasurements,
  type RoundRatios,
  roundRatios,
} from './compare.ts';

/** The checkout this module belongs to: the head side. */
const HEAD_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The scenarios whose pairs give the guarded ratios (the storm and scale have none). */
export const CHECK_SCENARIOS = ['assign', 'limit', 'http', 'peer'] as const;

export interface CheckConfig {
  baseRef: string;
  /** Runs of each side, alternating; each run measures every pair once. */
  rounds: number;
  /** 0.10: a ratio more than 10 % worse than the base fails. */
  tolerance: number;
  scenarios: readonly string[];
  durationS: number;
  warmupS: number;
  clients: number;
  mediaServers: number;
  pin: boolean;
  /** Folder for this check (created): each side run's report and check.json. */
  dir: string;
  log: (line: string) => void;
}

export type SideName = 'base' | 'head';

export interface SideRun {
  side: SideName;
  round: number;
  report: string;
  seconds: number;
  ratios: RoundRatios;
  /** Server CPU µs per op of each measurement, to see which side of a ratio moved. */
  cpuUsPerOp: Record<string, number>;
  /** Server and load generator CPU of each measurement as shares of one core (%). */
  busyPct: Record<string, { server: number; client: number }>;
}

export interface CheckResult {
  base: { ref: string; commit: string; subject: string };
  head: { commit: string; uncommittedChanges: boolean };
  lockfileDiffers: boolean;
  /** Whether the base ran on its own `npm ci` (the current node_modules did not run it). */
  baseOwnModules: boolean;
  /** Runs that failed once and were run again, with the first line of why. */
  retried: string[];
  tolerance: number;
  rounds: number;
  args: string[];
  runs: SideRun[];
  rows: CheckRow[];
  /** Measurements taken while other tenants held the cores (see contendedMeasurements). */
  contended: { contended: string[]; of: number };
  seconds: number;
  /** 1-minute load average at the start and the end. */
  loadAverage: { start: number; end: number };
}

const git = (root: string, args: string[]): string =>
  execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The temporary checkout of the base commit, with this checkout's node_modules linked in. */
class BaseWorktree {
  readonly #parent: string;
  readonly dir: string;
  #removed = false;

  constructor(
    readonly headRoot: string,
    readonly commit: string,
  ) {
    this.#parent = mkdtempSync(join(tmpdir(), 'usher-bench-check-'));
    this.dir = join(this.#parent, 'base');
    try {
      git(headRoot, ['worktree', 'add', '--detach', this.dir, commit]);
    } catch (error) {
      rmSync(this.#parent, { recursive: true, force: true });
      throw new Error(`git worktree add failed: ${(error as { stderr?: string }).stderr ?? error}`, {
        cause: error,
      });
    }
    symlinkSync(realpathSync(join(headRoot, 'node_modules')), this.#modules, 'dir');
  }

  get #modules(): string {
    return join(this.dir, 'node_modules');
  }

  /** Unlinks the linked node_modules, so that the base can get its own. */
  unlinkModules(): void {
    // Unlink the link itself: never anything inside the checkout it points to.
    if (existsSync(this.#modules) && lstatSync(this.#modules).isSymbolicLink()) unlinkSync(this.#modules);
  }

  /** Synchronous, so that it also runs from 'exit' and signal handlers. */
  removeSync(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.unlinkModules();
    spawnSync('git', ['-C', this.headRoot, 'worktree', 'remove', '--force', this.dir], { stdio: 'ignore' });
    rmSync(this.#parent, { recursive: true, force: true });
    spawnSync('git', ['-C', this.headRoot, 'worktree', 'prune'], { stdio: 'ignore' });
  }
}

/** A child process in its own process group (a side's `usher bench`, npm ci), so that all it started can be killed. */
class GroupedProcess {
  readonly child: ChildProcess;
  readonly tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: string[], cwd: string, prefix: string, log: (line: string) => void) {
    this.child = spawn(command, args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', (error) => {
        this.tail.push(`[spawn error] ${error.message}`);
        resolve({ code: null, signal: null });
      });
    });
    const keep = (line: string): void => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    };
    if (this.child.stdout !== null) createInterface({ input: this.child.stdout }).on('line', keep);
    if (this.child.stderr !== null) {
      createInterface({ input: this.child.stderr }).on('line', (line) => {
        keep(line);
        log(`${prefix} ${line}`);
      });
    }
  }

  /** SIGCONT then SIGKILL to the whole group: the bench and every server and load generator it started. */
  killGroupSync(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is already gone
      }
    }
  }
}

function resolveBase(root: string, ref: string): CheckResult['base'] {
  let commit: string;
  try {
    commit = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new UsherConfigError(`usher bench: --check: "${ref}" is not a commit of this repository`);
  }
  return { ref, commit, subject: git(root, ['log', '-1', '--format=%s', commit]) };
}

function lockfileDiffers(root: string, commit: string): boolean {
  const current = existsSync(join(root, 'package-lock.json'))
    ? readFileSync(join(root, 'package-lock.json'), 'utf8')
    : undefined;
  let base: string | undefined;
  try {
    base = git(root, ['show', `${commit}:package-lock.json`]);
  } catch {
    base = undefined;
  }
  return current?.trim() !== base?.trim();
}

/** The report.json a side's run wrote into `out` (inside its timestamped folder). */
function readSideReport(out: string): { path: string; measurements: MeasurementSummary[] } {
  const folders = existsSync(out) ? readdirSync(out) : [];
  const path = folders.map((name) => join(out, name, 'report.json')).find((file) => existsSync(file));
  if (path === undefined) throw new Error(`no report.json under ${out}`);
  const report = JSON.parse(readFileSync(path, 'utf8')) as { measurements?: unknown };
  const measurements = Array.isArray(report.measurements) ? report.measurements : [];
  const usable = measurements.filter(
    (m): m is MeasurementSummary =>
      typeof m === 'object' &&
      m !== null &&
      typeof (m as MeasurementSummary).id === 'string' &&
      typeof (m as MeasurementSummary).cpuUsPerOp === 'number',
  );
  if (usable.length === 0) {
    throw new Error(
      `${path} has no measurements with an id and cpuUsPerOp: not a bench report this check reads`,
    );
  }
  return { path, measurements: usable };
}

/** The arguments each side's `usher bench` gets: the same load, one round, its own folder. */
export function sideArgs(config: CheckConfig, out: string): string[] {
  return [
    '--scenario',
    config.scenarios.join(','),
    '--rounds',
    '1',
    '--duration-s',
    String(config.durationS),
    '--warmup-s',
    String(config.warmupS),
    '--clients',
    String(config.clients),
    '--media-servers',
    String(config.mediaServers),
    ...(config.pin ? [] : ['--no-pin']),
    '--out',
    out,
  ];
}

/** Run order: each round both sides, the one going first alternating, so drift hits both alike. */
export function runOrder(rounds: number): Array<{ side: SideName; round: number }> {
  return Array.from({ length: rounds }, (_, round) =>
    (round % 2 === 0 ? (['base', 'head'] as const) : (['head', 'base'] as const)).map((side) => ({
      side,
      round,
    })),
  ).flat();
}

export async function runCheck(config: CheckConfig): Promise<CheckResult> {
  const { log } = config;
  const started = Date.now();
  const loadStart = loadavg()[0]!;
  const headRoot = git(HEAD_ROOT, ['rev-parse', '--show-toplevel']);
  const baseCommit = resolveBase(headRoot, config.baseRef);
  const head = {
    commit: git(headRoot, ['rev-parse', 'HEAD']),
    uncommittedChanges: git(headRoot, ['status', '--porcelain', '--untracked-files=no']).length > 0,
  };
  mkdirSync(config.dir, { recursive: true });
  const differs = lockfileDiffers(headRoot, baseCommit.commit);
  log(
    `usher bench --check: base ${config.baseRef} = ${baseCommit.commit.slice(0, 10)} "${baseCommit.subject}"; head ${head.commit.slice(0, 10)}${head.uncommittedChanges ? ' + uncommitted changes' : ''}`,
  );
  if (differs) {
    log(
      "usher bench --check: the base's package-lock.json differs from this checkout's; both sides run on this checkout's node_modules (the base gets its own `npm ci` only if its first run fails on them)",
    );
  }

  let worktree: BaseWorktree | undefined;
  let current: GroupedProcess | undefined;
  const abortSync = (): void => {
    current?.killGroupSync();
    worktree?.removeSync();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    abortSync();
    process.stderr.write(
      `\nusher bench --check: stopped by ${signal}; every process it started was killed and the base worktree removed.\n`,
    );
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', abortSync);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  /** Runs a grouped child to its end (or kills it after timeoutMs); throws unless it exited 0. */
  const runGrouped = async (
    command: string,
    args: string[],
    cwd: string,
    prefix: string,
    timeoutMs: number,
  ): Promise<void> => {
    const proc = new GroupedProcess(command, args, cwd, prefix, log);
    current = proc;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([proc.exited, timedOut]);
    clearTimeout(timer);
    proc.killGroupSync();
    current = undefined;
    if (outcome === 'timeout')
      throw new Error(`${prefix} did not finish within ${timeoutMs / 1000} s; killed`);
    if (outcome.code !== 0) {
      throw new Error(
        `${prefix} exited with ${outcome.code ?? outcome.signal}:\n${proc.tail.slice(-15).join('\n')}`,
      );
    }
  };

  // A run that does not end within twice its expected time is stuck: 13 windows (pairs and the
  // calibrated twins), each with a load process to start, and the servers to start.
  const timeoutMs = (13 * (config.durationS + config.warmupS + 5) + 120) * 2 * 1000;
  const runSide = async (side: SideName, round: number, root: string): Promise<SideRun> => {
    const out = join(config.dir, `${side}-${round + 1}`);
    rmSync(out, { recursive: true, force: true });
    const sideStarted = Date.now();
    const prefix = `[${side} ${round + 1}/${config.rounds}]`;
    await runGrouped(
      process.execPath,
      [join(root, 'bin', 'usher.mjs'), 'bench', ...sideArgs(config, out)],
      root,
      prefix,
      timeoutMs,
    );
    const { path, measurements } = readSideReport(out);
    const seconds = (Date.now() - sideStarted) / 1000;
    log(`${prefix} done in ${seconds.toFixed(0)} s`);
    return {
      side,
      round,
      report: path,
      seconds,
      ratios: roundRatios(measurements),
      cpuUsPerOp: Object.fromEntries(measurements.map((m) => [m.id, m.cpuUsPerOp])),
      busyPct: Object.fromEntries(
        measurements.map((m) => [m.id, { server: m.serverBusyPct, client: m.clientBusyPct }]),
      ),
    };
  };

  const runs: SideRun[] = [];
  const retried: string[] = [];
  let baseOwnModules = false;
  try {
    const base = new BaseWorktree(headRoot, baseCommit.commit);
    worktree = base;
    log(`usher bench --check: base worktree ${base.dir}`);
    for (const { side, round } of runOrder(config.rounds)) {
      const root = side === 'head' ? headRoot : base.dir;
      try {
        runs.push(await runSide(side, round, root));
      } catch (error) {
        const ranBefore = runs.some((run) => run.side === side);
        const message = (error as Error).message.split('\n')[0] ?? '';
        if (side === 'base' && !ranBefore && differs && !baseOwnModules) {
          // Never ran on this checkout's node_modules: a dependency the base's lockfile has.
          log(`usher bench --check: the base failed on this checkout's node_modules: ${message}`);
          base.unlinkModules();
          await runGrouped('npm', ['ci', '--no-audit', '--no-fund'], base.dir, '[base npm ci]', 15 * 60_000);
          baseOwnModules = true;
        } else if (ranBefore) {
          // It ran before: a transient failure (a server slow to start on a loaded machine).
          log(`usher bench --check: ${message}; running it again once`);
        } else {
          throw error;
        }
        retried.push(`${side} ${round + 1}: ${message}`);
        runs.push(await runSide(side, round, root));
      }
    }
  } finally {
    abortSync();
    process.off('exit', abortSync);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }

  const ratiosOf = (side: SideName): RoundRatios[] =>
    runs.filter((run) => run.side === side).map((run) => run.ratios);
  return {
    base: baseCommit,
    head,
    lockfileDiffers: differs,
    baseOwnModules,
    retried,
    tolerance: config.tolerance,
    rounds: config.rounds,
    args: sideArgs(config, '<run folder>'),
    runs,
    rows: compareRatios(ratiosOf('base'), ratiosOf('head'), config.tolerance),
    contended: contendedMeasurements(runs),
    seconds: (Date.now() - started) / 1000,
    loadAverage: { start: loadStart, end: loadavg()[0]! },
  };
}
