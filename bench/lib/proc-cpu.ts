// CPU time of other processes from /proc/<pid>/stat (utime + stime, all threads), the
// measure the bench divides by operations: far steadier than throughput on a shared machine.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ: the unit of utime/stime (100 on Linux unless configured otherwise). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const parsed = Number(result.stdout?.trim());
    ticksPerSecond = Number.isFinite(parsed) && parsed > 0 ? parsed : 100;
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in µs, or null when the process is gone (or not Linux). */
export function processCpuUs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1e6) / clockTicksPerSecond();
}

/** Sum over `pids` (missing processes count 0). */
export function totalCpuUs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += processCpuUs(pid) ?? 0;
  return total;
}

/** Per-pid CPU, for reports that split broker and media servers. */
export function cpuByPid(pids: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const pid of pids) out[pid] = processCpuUs(pid) ?? 0;
  return out;
}

/** True when /proc accounting is readable (Linux). */
export function procAvailable(): boolean {
  return processCpuUs(process.pid) !== null;
}

export interface CoreTimes {
  /** Ticks not idle and not iowait (user, nice, system, irq, softirq, steal). */
  busy: number;
  total: number;
  /** Ticks in softirq: on loopback, much of TCP's receive work lands here. */
  softirq: number;
}

/** Per-core counters from /proc/stat, index = CPU number; [] when unreadable. */
export function coreTimes(): CoreTimes[] {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'latin1');
  } catch {
    return [];
  }
  const out: CoreTimes[] = [];
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2]!
      .split(/\s+/)
      .map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    out[Number(match[1])] = { busy, total: busy + idle! + iowait!, softirq: softirq! };
  }
  return out;
}

/** Busy share (0..1) of each core between two readings. */
export function coreBusy(before: CoreTimes[], after: CoreTimes[]): Array<{ busy: number; softirq: number }> {
  return after.map((end, index) => {
    const start = before[index];
    const total = start === undefined ? 0 : end.total - start.total;
    if (start === undefined || total <= 0) return { busy: 0, softirq: 0 };
    return { busy: (end.busy - start.busy) / total, softirq: (end.softirq - start.softirq) / total };
  });
}
