// Scenario steady: N clients joined and pinging one media server at the default interval,
// against the same N pinging a bare `ws` echo on the same core (bench/steady/).
import { type ControlPoint, runControlFleet, runSteady, type SteadyPoint } from '../steady/run-steady.ts';
import type { ScenarioContext } from './context.ts';

export async function runSteadyScenario(
  ctx: ScenarioContext,
): Promise<{ steady: SteadyPoint[]; control: ControlPoint[] }> {
  const { config, group, log, nodeFlags } = ctx;
  log(
    `usher bench: steady ${config.steadyClients.join(', ')} clients, ${config.steadyProcesses} client processes`,
  );
  const steady = await runSteady(group, {
    sizes: config.steadyClients,
    processes: config.steadyProcesses,
    durationMs: config.durationS * 1000,
    warmupMs: config.warmupS * 1000,
    ping: config.stormTiming?.ping ?? { intervalMs: 1000, timeoutMs: 2500 },
    rampPerSecond: 1000,
    logLevel: config.logLevel,
    nodeFlags,
    log,
  });
  const control = await runControlFleet(group, {
    sizes: config.controlServers,
    durationMs: config.durationS * 1000,
    warmupMs: config.warmupS * 1000,
    logLevel: config.logLevel,
    nodeFlags,
    log,
  });
  return { steady, control };
}
