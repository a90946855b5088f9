// Scenario storm: for each chosen failure (SIGKILL, SIGSTOP), a fresh stack, simulated browsers
// in rooms, the busiest server failed, and what happened to every session.
import { runStormPhase, type StormPhaseResult } from '../storm/run-storm.ts';
import type { ScenarioContext } from './context.ts';

export async function runStorm(ctx: ScenarioContext): Promise<StormPhaseResult[]> {
  const { config, group, log, nodeFlags } = ctx;
  const phases: StormPhaseResult[] = [];
  for (const failure of config.stormFailures) {
    log(`usher bench: storm ${failure}, ${config.stormClients} clients`);
    phases.push(
      await runStormPhase(group, {
        clients: config.stormClients,
        failure,
        processes: config.stormProcesses,
        seed: config.seed,
        logLevel: config.logLevel,
        nodeFlags,
        log,
        ...(config.stormTiming ?? {}),
      }),
    );
  }
  return phases;
}
