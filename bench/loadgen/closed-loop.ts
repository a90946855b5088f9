// Closed-loop load: `concurrency` slots each run one operation after another, bounded by an
// operation count and a time limit, measuring only a window after warm-up — with the server
// processes' CPU read from /proc at the window's two ends, in this same process.
import { performance } from 'node:perf_hooks';
import { Histogram, type HistogramJson } from '../lib/histogram.ts';
import { type CoreTimes, coreBusy, coreTimes, cpuByPid } from '../lib/proc-cpu.ts';

/** One operation on a slot (0…concurrency-1): call `done` once, with an error code when it failed. */
export type Operation = (slot: number, seq: number, done: (error?: string) => void) => void;

export interface LoopOptions {
  concurrency: number;
  /** Upper bound on operations started, warm-up included. */
  maxOps: number;
  warmupMs: number;
  durationMs: number;
  /** Processes whose CPU the window is charged with. */
  serverPids: number[];
  /** Called once the loop has stopped, to close what is still open. */
  cleanup?: () => void;
  /**
   * Open loop instead: start operations at this rate whatever the replies do (at most
   * `concurrency` in flight), latency counted from each operation's scheduled start, so a
   * late start is charged to the latency as a person waiting would feel it.
   */
  ratePerSecond?: number;
}

export interface LoadResult {
  /** Operations that completed successfully inside the window. */
  ops: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Operations started in total (warm-up included). */
  started: number;
  windowMs: number;
  /** CPU µs of each server pid over the window. */
  serverCpuUs: Record<number, number>;
  /** This load generator's CPU µs over the window. */
  clientCpuUs: number;
  /** Every core's busy share over the window (shows whether the server core was saturated). */
  cores: Array<{ busy: number; softirq: number }>;
  latency: HistogramJson;
  /** Percentiles from another tool (autocannon) when `latency` has no buckets. */
  percentilesUs?: { p50: number; p99: number; p999: number };
  /** The loop hit its operation bound before its time bound. */
  countBound: boolean;
  /** Operations still unfinished when the loop gave up waiting for them. */
  abandoned: number;
}

export function runClosedLoop(op: Operation, options: LoopOptions): Promise<LoadResult> {
  return new Promise((resolve) => {
    const latency = new Histogram();
    const rate = options.ratePerSecond;
    const pacedFrom = performance.now();
    const errorCodes: Record<string, number> = {};
    let ops = 0;
    let errors = 0;
    let started = 0;
    let inFlight = 0;
    let measuring = false;
    let stopping = false;
    let countBound = false;
    let windowStart = 0;
    let windowEnd = 0;
    let cpuStart: Record<number, number> = {};
    let cpuEnd: Record<number, number> = {};
    let clientStart = 0;
    let clientEnd = 0;
    let coresStart: CoreTimes[] = [];
    let coresEnd: CoreTimes[] = [];
    const clientCpu = (): number => {
      const usage = process.cpuUsage();
      return usage.user + usage.system;
    };

    const openWindow = (): void => {
      cpuStart = cpuByPid(options.serverPids);
      coresStart = coreTimes();
      clientStart = clientCpu();
      windowStart = performance.now();
      measuring = true;
    };
    const closeWindow = (): void => {
      if (!measuring) return;
      windowEnd = performance.now();
      cpuEnd = cpuByPid(options.serverPids);
      coresEnd = coreTimes();
      clientEnd = clientCpu();
      measuring = false;
    };

    const startOne = (slot: number): void => {
      if (stopping) return;
      if (started >= options.maxOps) {
        countBound = true;
        stop();
        return;
      }
      const seq = started;
      started += 1;
      inFlight += 1;
      const t0 = rate === undefined ? performance.now() : pacedFrom + (seq * 1000) / rate;
      let finished = false;
      op(slot, seq, (error) => {
        if (finished) return;
        finished = true;
        inFlight -= 1;
        if (measuring) {
          if (error === undefined) {
            ops += 1;
            latency.record((performance.now() - t0) * 1000);
          } else {
            errors += 1;
            errorCodes[error] = (errorCodes[error] ?? 0) + 1;
          }
        }
        if (stopping) {
          if (inFlight === 0) finish();
        } else if (rate === undefined) {
          // Not synchronously: an operation that fails at once must not recurse without bound.
          setImmediate(startOne, slot);
        }
      });
    };

    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      clearTimeout(windowTimer);
      clearTimeout(endTimer);
      clearInterval(pacer);
      options.cleanup?.();
      resolve({
        ops,
        errors,
        errorCodes,
        started,
        windowMs: windowEnd - windowStart,
        serverCpuUs: Object.fromEntries(
          Object.entries(cpuEnd).map(([pid, us]) => [pid, us - (cpuStart[Number(pid)] ?? 0)]),
        ),
        clientCpuUs: clientEnd - clientStart,
        cores: coreBusy(coresStart, coresEnd),
        latency: latency.toJSON(),
        countBound,
        abandoned: inFlight,
      });
    };
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      // The window ends when the load stops, not when stragglers finish.
      if (!measuring && windowStart === 0) openWindow();
      closeWindow();
      if (inFlight === 0) finish();
      else drainTimer = setTimeout(finish, 3000);
    };

    const windowTimer = setTimeout(openWindow, options.warmupMs);
    const endTimer = setTimeout(stop, options.warmupMs + options.durationMs);
    let pacer: NodeJS.Timeout | undefined;
    if (rate === undefined) {
      for (let slot = 0; slot < options.concurrency; slot += 1) startOne(slot);
    } else {
      pacer = setInterval(() => {
        const due = Math.floor(((performance.now() - pacedFrom) * rate) / 1000);
        while (!stopping && started < due && inFlight < options.concurrency)
          startOne(started % options.concurrency);
      }, 1);
    }
  });
}
