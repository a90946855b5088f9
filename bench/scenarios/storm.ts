// Scenario storm: simulated browsers in rooms on a fleet, and failures — SIGKILL or SIGSTOP of
// the busiest media server, SIGKILL of a broker — each on a fresh fleet, or one after another
// on one fleet (--storm-one-stack); what happened to every session.
import { runStorm as runStormOnFleet, type StormOptions, type StormPhaseResult } from '../storm/run-storm.ts';
import type { ScenarioContext } from './context.ts';

export async function runStorm(ctx: ScenarioContext): Promise<StormPhaseResult[]> {
  const { config, group, log, nodeFlags } = ctx;
  const brokers = config.stormBrokers ?? 1;
  const media = config.stormMedia ?? 3;
  const redis = config.stormRedis ?? false;
  const fleet = brokers > 1;
  const options: StormOptions = {
    clients: config.stormClients,
    brokers,
    mediaCount: media,
    redis,
    front: config.stormFront ?? 'haproxy',
    processes: config.stormProcesses,
    rampPerSecond: config.stormRamp ?? 1000,
    // Issue #17's fleet storm asks room rejoin p99 ≤ 3 s; the one-broker storm keeps its 5 s.
    roomRejoinLimitMs: fleet ? 3000 : 5000,
    seed: config.seed,
    logLevel: config.logLevel,
    nodeFlags,
    log,
    ...(config.stormTiming ?? {}),
  };
  const topology = `${brokers} broker(s)${redis ? ' + Redis' : ''}${fleet ? (config.stormFront === 'sdk' ? ', every broker URL in the SDK' : ' behind HAProxy') : ''}, ${media} media servers`;
  if (config.stormOneStack === true) {
    log(
      `usher bench: storm ${config.stormFailures.join(' → ')} on one fleet (${topology}), ${config.stormClients} clients`,
    );
    return runStormOnFleet(group, { ...options, failures: config.stormFailures });
  }
  const phases: StormPhaseResult[] = [];
  for (const failure of config.stormFailures) {
    log(`usher bench: storm ${failure} (${topology}), ${config.stormClients} clients`);
    phases.push(...(await runStormOnFleet(group, { ...options, failures: [failure] })));
  }
  return phases;
}
