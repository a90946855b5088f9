// `usher bench` (and `npm run bench`): parses the flags, runs the chosen scenarios, prints
// the table and writes the report files; fails when a storm lost, split or falsely moved sessions.
import { join, resolve } from 'node:path';
import { parseOptions } from '../server/cli/options.ts';
import type { BenchEntry } from '../server/cli.ts';
import { UsherConfigError } from '../server/common/config-error.ts';
import { type BenchConfig, SCENARIOS, type Scenario } from './config.ts';
import { benchHelp, benchOptions } from './help.ts';
import { textReport } from './report/table.ts';
import { writeReport } from './report/write.ts';
import { runBenchmarks } from './run.ts';
import type { FailureKind } from './storm/run-storm.ts';

const FAILURES: Record<string, FailureKind> = { kill: 'SIGKILL', stop: 'SIGSTOP' };

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
      throw new UsherConfigError(`usher bench: --storm-failures takes kill,stop; got "${name}"`);
    return failure;
  });
  const explicit = (flag: string): boolean =>
    argv.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`));
  const quick = options.quick;
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
    stormFailures: failures,
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

export async function runBench(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const config = benchConfig(argv, env, (line) => process.stderr.write(`${line}\n`));
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
