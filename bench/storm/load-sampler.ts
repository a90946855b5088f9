// Samples the fleet's load every 250 ms while a storm runs: each process's CPU from /proc and
// Redis's command count from INFO, so a phase can report the peak a broker, Redis, the front
// and a client process reached, not only their averages.
import { processCpuUs } from '../lib/proc-cpu.ts';
import type { RedisInfoClient } from '../lib/redis-info.ts';

interface Sample {
  at: number;
  cpuUs: Map<number, number>;
  /** Redis's total_commands_processed, less the sampler's own INFO calls. */
  redisCommands: number | undefined;
  redisInstantaneousOps: number | undefined;
}

export interface CpuLoad {
  /** Busiest sampling interval, % of one core. */
  peakPct: number;
  meanPct: number;
}

export interface RedisLoad {
  /** Commands per second in the busiest sampling interval (from total_commands_processed). */
  peakOpsPerSecond: number;
  meanOpsPerSecond: number;
  /** Redis's own figure (instantaneous_ops_per_sec), highest reading. */
  peakInstantaneousOps: number;
  commands: number;
}

export interface LoadWindow {
  seconds: number;
  intervalMs: number;
  /** Per watched group (summed over its processes). */
  cpu: Record<string, CpuLoad>;
  /** The busiest single process of each group. */
  busiestProcessPeakPct: Record<string, number>;
  redis: RedisLoad | undefined;
}

export class LoadSampler {
  readonly #groups: Map<string, number[]>;
  readonly #redis: RedisInfoClient | undefined;
  readonly #intervalMs: number;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #ownInfoCalls = 0;
  /** Bounded: 250 ms samples for an hour. */
  static readonly MAX_SAMPLES = 14_400;

  constructor(groups: Record<string, number[]>, redis: RedisInfoClient | undefined, intervalMs = 250) {
    this.#groups = new Map(Object.entries(groups));
    this.#redis = redis;
    this.#intervalMs = intervalMs;
  }

  /** Adds processes to a group (e.g. the client processes, started after the servers). */
  watch(group: string, pids: number[]): void {
    this.#groups.set(group, [...(this.#groups.get(group) ?? []), ...pids]);
  }

  start(): void {
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), this.#intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#redis?.close();
  }

  async #sample(): Promise<void> {
    if (this.#busy || this.#samples.length >= LoadSampler.MAX_SAMPLES) return;
    this.#busy = true;
    try {
      const at = performance.timeOrigin + performance.now();
      const cpuUs = new Map<number, number>();
      for (const pids of this.#groups.values())
        for (const pid of pids) {
          const value = processCpuUs(pid);
          if (value !== null) cpuUs.set(pid, value);
        }
      let redisCommands: number | undefined;
      let redisInstantaneousOps: number | undefined;
      if (this.#redis !== undefined) {
        try {
          const stats = await this.#redis.info('stats');
          this.#ownInfoCalls += 1;
          redisCommands = Number(stats.get('total_commands_processed')) - this.#ownInfoCalls;
          redisInstantaneousOps = Number(stats.get('instantaneous_ops_per_sec'));
        } catch {
          // A missed reading leaves a gap; the next interval spans it.
        }
      }
      this.#samples.push({ at, cpuUs, redisCommands, redisInstantaneousOps });
    } finally {
      this.#busy = false;
    }
  }

  /** The load between two epoch ms times (whole sampling intervals inside it). */
  window(from: number, to: number): LoadWindow {
    const samples = this.#samples.filter((sample) => sample.at >= from - this.#intervalMs && sample.at <= to);
    const cpu: Record<string, CpuLoad> = {};
    const busiest: Record<string, number> = {};
    const seconds = samples.length < 2 ? 0 : (samples.at(-1)!.at - samples[0]!.at) / 1000;
    for (const [name, pids] of this.#groups) {
      let peak = 0;
      let busiestPeak = 0;
      let totalUs = 0;
      for (let index = 1; index < samples.length; index += 1) {
        const a = samples[index - 1]!;
        const b = samples[index]!;
        const spanUs = (b.at - a.at) * 1000;
        let sum = 0;
        for (const pid of pids) {
          const start = a.cpuUs.get(pid);
          const end = b.cpuUs.get(pid);
          if (start === undefined || end === undefined) continue;
          sum += end - start;
          busiestPeak = Math.max(busiestPeak, ((end - start) / spanUs) * 100);
        }
        totalUs += sum;
        peak = Math.max(peak, (sum / spanUs) * 100);
      }
      cpu[name] = { peakPct: peak, meanPct: seconds > 0 ? (totalUs / (seconds * 1e6)) * 100 : 0 };
      busiest[name] = busiestPeak;
    }
    let redis: RedisLoad | undefined;
    const counted = samples.filter((sample) => sample.redisCommands !== undefined);
    if (this.#redis !== undefined && counted.length >= 2) {
      let peak = 0;
      for (let index = 1; index < counted.length; index += 1) {
        const a = counted[index - 1]!;
        const b = counted[index]!;
        peak = Math.max(peak, (b.redisCommands! - a.redisCommands!) / ((b.at - a.at) / 1000));
      }
      const commands = counted.at(-1)!.redisCommands! - counted[0]!.redisCommands!;
      const span = (counted.at(-1)!.at - counted[0]!.at) / 1000;
      redis = {
        peakOpsPerSecond: peak,
        meanOpsPerSecond: span > 0 ? commands / span : 0,
        peakInstantaneousOps: Math.max(...counted.map((sample) => sample.redisInstantaneousOps ?? 0)),
        commands,
      };
    }
    return { seconds, intervalMs: this.#intervalMs, cpu, busiestProcessPeakPct: busiest, redis };
  }
}
