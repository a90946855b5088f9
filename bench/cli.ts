// `usher bench` (and `npm run bench`): parses the flags, runs the chosen scenarios, prints
// the table and writes the report files; fails when a storm lost, split or falsely moved sessions.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseOptions } from '../server/cli/options.ts';
import type { BenchEntry } from '../server/cli.ts';
import { UsherConfigError } from '../server/common/config-error.ts';
import { checkTable, failureSummary } from './check/compare.ts';
import { CHECK_SCENARIOS, type CheckConfig, type CheckResult, runCheck } from './check/run-check.ts';
import { type BenchConfig, SCENARIOS, type Scenario } from './config.ts';
import { benchHelp, benchOptions } from './help.ts';
import { textReport } from './report/table.ts';
import { writeReport } from './report/write.ts';
import { runBenchmarks } from './run.ts';
import type { FailureKind } from './storm/run-storm.ts';

const FAILURES: Record<string, FailureKind> = {
  kill: 'SIGKILL',
  stop: 'SIGSTOP',
  'broker-kill': 'BROKER_SIGKILL',
};

export function benchConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): BenchConfig {
  const options = parseOptions('bench', benchOptions, argv, env);
  const wanted = options.scenario.includes('all') ? [...SCENARIOS] : options.scenario;
  for (const name of wanted) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new UsherConfigError(
        `usher bench: unknown scenario "${name}"; use ${SCENARIOS.join(',')} or all`,
      );
    }
  }
  const failures = options['storm-failures'].map((name) => {
    const failure = FAILURES[name];
    if (failure === undefined)
      throw new UsherConfigError(`usher bench: --storm-failures takes kill,stop,broker-kill; got "${name}"`);
    return failure;
  });
  const front = options['storm-front'];
  if (front !== 'haproxy' && front !== 'sdk')
    throw new UsherConfigError(`usher bench: --storm-front takes haproxy or sdk; got "${front}"`);
  if (options['storm-brokers'] > 1 && !options['storm-redis'])
    throw new UsherConfigError(
      'usher bench: --storm-brokers above 1 needs --storm-redis (they share room pins through it)',
    );
  const brokerKills = failures.filter((failure) => failure === 'BROKER_SIGKILL').length;
  if (brokerKills > 0 && brokerKills >= options['storm-brokers'])
    throw new UsherConfigError(
      'usher bench: --storm-failures broker-kill needs a broker left: --storm-brokers 2 or more',
    );
  const mediaFailures = options['storm-one-stack'] ? failures.length - brokerKills : 1;
  if (mediaFailures >= options['storm-media'])
    throw new UsherConfigError(
      `usher bench: ${mediaFailures} media failures on one fleet need more than ${mediaFailures} media servers (--storm-media)`,
    );
  const explicit = (flag: string): boolean =>
    argv.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`));
  const quick = options.quick;
  const controlServers = (
    quick && !argv.some((arg) => arg.startsWith('--control-servers')) ? ['5'] : options['control-servers']
  ).map((text) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 5000)
      throw new UsherConfigError(`usher bench: --control-servers takes counts 1…5000; got "${text}"`);
    return count;
  });
  const steadyClients = (
    quick && !argv.some((arg) => arg.startsWith('--steady-clients')) ? ['40'] : options['steady-clients']
  ).map((text) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 50_000)
      throw new UsherConfigError(`usher bench: --steady-clients takes counts 1…50000; got "${text}"`);
    return count;
  });
  const stamp = new Date()
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const config: BenchConfig = {
    scenarios: new Set(wanted as Scenario[]),
    durationS: quick && !explicit('duration-s') ? 1 : options['duration-s'],
    warmupS: quick && !explicit('warmup-s') ? 0 : options['warmup-s'],
    clients: options.clients,
    mediaServers: options['media-servers'],
    rounds: quick && !explicit('rounds') ? 1 : options.rounds,
    stormClients: quick && !explicit('storm-clients') ? 60 : options['storm-clients'],
    stormProcesses: options['storm-processes'],
    stormRamp: options['storm-ramp'],
    stormFailures: failures,
    stormBrokers: options['storm-brokers'],
    stormMedia: options['storm-media'],
    stormRedis: options['storm-redis'],
    stormFront: front,
    stormOneStack: options['storm-one-stack'],
    steadyClients,
    steadyProcesses: options['steady-processes'],
    controlServers,
    pin: !options['no-pin'],
    profile: options.profile,
    dir: join(resolve(options.out), stamp),
    seed: options.seed,
    // As deployed: failovers are log lines, and readiness is read from the servers' info lines.
    logLevel: 'info',
    log,
  };
  if (quick) {
    config.stormTiming = {
      ping: { intervalMs: 200, timeoutMs: 600 },
      heartbeat: { intervalMs: 200, timeoutMs: 800 },
    };
  }
  return config;
}

/** The regression guard's settings when --check is given, else undefined. */
export function checkConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
  config: BenchConfig,
): CheckConfig | undefined {
  const options = parseOptions('bench', benchOptions, argv, env);
  if (options.check === undefined) return undefined;
  const tolerance = Number(options['check-tolerance']);
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new UsherConfigError(
      `usher bench: --check-tolerance must be a fraction ≥ 0 (0.10 = 10 %), got "${options['check-tolerance']}"`,
    );
  }
  const scenarios = options.scenario.includes('all') ? [...CHECK_SCENARIOS] : options.scenario;
  const other = scenarios.filter((name) => !(CHECK_SCENARIOS as readonly string[]).includes(name));
  if (other.length > 0) {
    throw new UsherConfigError(
      `usher bench: --check compares the ratios of ${CHECK_SCENARIOS.join(',')}; not ${other.join(',')}`,
    );
  }
  if (config.profile) throw new UsherConfigError('usher bench: --check does not take --profile');
  return {
    baseRef: options.check,
    rounds: config.rounds,
    tolerance,
    scenarios,
    durationS: config.durationS,
    warmupS: config.warmupS,
    clients: config.clients,
    mediaServers: config.mediaServers,
    pin: config.pin,
    dir: config.dir,
    log: config.log,
  };
}

function checkReport(result: CheckResult): string {
  const base = `${result.base.ref} (${result.base.commit.slice(0, 10)})`;
  const head = `${result.head.commit.slice(0, 10)}${result.head.uncommittedChanges ? ' + uncommitted changes' : ''}`;
  return [
    `Regression guard: base ${base} "${result.base.subject}" vs head ${head}`,
    `${result.rounds} round(s) per side, alternating; each ratio is the median of its rounds; tolerance ${(result.tolerance * 100).toFixed(0)} %.`,
    `Each run: usher bench ${result.args.join(' ')}`,
    `Load average (1 min): ${result.loadAverage.start.toFixed(1)} at the start, ${result.loadAverage.end.toFixed(1)} at the end; ${Math.round(result.seconds)} s in all.`,
    ...(result.lockfileDiffers
      ? [
          `The base's package-lock.json differs from this checkout's; the base ran on ${result.baseOwnModules ? 'its own npm ci' : "this checkout's node_modules"}.`,
        ]
      : []),
    ...result.retried.map((line) => `Run again after a failure: ${line}`),
    '',
    checkTable(result.rows, result.tolerance),
    ...(result.contended.contended.length > 0
      ? [
          '',
          `Warning: in ${result.contended.contended.length} of ${result.contended.of} measurements neither the server nor its load generator had 80 % of a core — other tenants held the machine, and CPU per op rises with that: re-run on a quieter machine before trusting a change. ${result.contended.contended.slice(0, 6).join('; ')}${result.contended.contended.length > 6 ? '; …' : ''}`,
        ]
      : []),
  ].join('\n');
}

async function runBenchCheck(check: CheckConfig): Promise<void> {
  const result = await runCheck(check);
  process.stdout.write(`\n${checkReport(result)}\n`);
  const json = join(check.dir, 'check.json');
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nwritten: ${json}\n`);
  if (result.rows.length === 0) throw new Error('--check: neither side measured a ratio');
  const failure = failureSummary(result.rows, result.tolerance, `${result.base.ref}`);
  if (failure !== undefined) throw new Error(failure);
  process.stdout.write(
    `\nregression guard passed: no ratio more than ${(result.tolerance * 100).toFixed(0)} % worse than ${result.base.ref}\n`,
  );
}

export async function runBench(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const config = benchConfig(argv, env, (line) => process.stderr.write(`${line}\n`));
  const check = checkConfig(argv, env, config);
  if (check !== undefined) return runBenchCheck(check);
  const report = await runBenchmarks(config);
  process.stdout.write(`\n${textReport(report)}\n`);
  const files = writeReport(report, config.dir);
  process.stdout.write(`\nwritten: ${files.join(', ')}\n`);
  const broken = report.storm.filter(
    (phase) =>
      !(
        phase.targets.lost &&
        phase.targets.split &&
        phase.targets.falseFailovers &&
        phase.targets.everyoneRejoined
      ),
  );
  if (broken.length > 0) {
    throw new Error(
      `storm correctness failed (${broken.map((phase) => `${phase.failure}: lost ${phase.lostSessions}, split ${phase.splitRooms}, false failovers ${phase.falseFailovers}, not rejoined ${phase.affectedNotRejoined}`).join('; ')})`,
    );
  }
}

/** The entry `usher bench` loads (server/cli.ts), typed here because it is loaded by a computed path. */
export default { benchHelp, runBench } satisfies BenchEntry;
