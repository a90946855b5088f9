// What one bench run is asked to do: the scenarios and every knob the CLI flags set.
import type { FailureKind } from './storm/run-storm.ts';

export const SCENARIOS = ['assign', 'limit', 'http', 'peer', 'storm', 'scale', 'steady', 'joins'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchConfig {
  scenarios: ReadonlySet<Scenario>;
  durationS: number;
  warmupS: number;
  /** Concurrent client connections (closed loop) for assign, limit, http and peer. */
  clients: number;
  /** Media servers of the stack for assign, http and peer (the storm's: stormMedia). */
  mediaServers: number;
  rounds: number;
  stormClients: number;
  stormProcesses: number;
  /** First joins per second at the storm's start (default 1000). */
  stormRamp?: number;
  stormFailures: readonly FailureKind[];
  /** The storm's fleet: brokers (default 1; behind HAProxy when more), media servers (3), Redis (no). */
  stormBrokers?: number;
  stormMedia?: number;
  stormRedis?: boolean;
  /** Several brokers: the HAProxy front, or every broker's URL in the SDK. */
  stormFront?: 'haproxy' | 'sdk';
  /** The failures one after another on one fleet instead of a fresh fleet for each. */
  stormOneStack?: boolean;
  /** Shorter ping/heartbeat timing for the storm (quick runs); undefined: the CLI's defaults. */
  stormTiming?: {
    ping: { intervalMs: number; timeoutMs: number };
    heartbeat: { intervalMs: number; timeoutMs: number };
  };
  /** Steady state: client counts, each against one media server and a bare echo. */
  steadyClients: readonly number[];
  /** Client processes per steady size. */
  steadyProcesses: number;
  /** Steady: fake media servers on the broker's control channel, one run per count. */
  controlServers: readonly number[];
  pin: boolean;
  /** Run the servers with --cpu-prof, profiles into the run directory. */
  profile: boolean;
  /** Run directory (created). */
  dir: string;
  seed: number;
  logLevel: string;
  log: (line: string) => void;
}
