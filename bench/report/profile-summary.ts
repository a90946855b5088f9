// Reads the V8 CPU profiles that `--profile` leaves (one per server thread) and says where
// each server's busy time went: top functions by self time and by inclusive time, idle left out.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  /** [function at file:line, share of busy time] sorted by share. */
  self: Array<[string, number]>;
  inclusive: Array<[string, number]>;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    .replace(/.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(bench|server|shared|web)\//, '$1/');
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (let index = 0; index < profile.samples.length; index += 1) {
    const node = byId.get(profile.samples[index]!);
    // A sample's time is the gap to the next one.
    const micros = profile.timeDeltas[index + 1] ?? 0;
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    busy += micros;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + micros);
    const seen = new Set<string>();
    for (let current: number | undefined = node.id; current !== undefined; current = parent.get(current)) {
      const frame = frameName(byId.get(current)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + micros);
    }
  }
  const ranked = (map: Map<string, number>): Array<[string, number]> =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => [name, busy === 0 ? 0 : micros / busy]);
  return { file, busyMs: busy / 1000, self: ranked(self), inclusive: ranked(inclusive) };
}

/** Summaries of every main-thread profile in `dir`, as text (also written next to them). */
export function summarizeProfiles(dir: string, names: Record<number, string> = {}, top = 25): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return '';
  }
  const parts: string[] = [];
  // Thread 0 of each process is its main thread; the others are loader and worker threads.
  for (const name of files.filter((file) => /\.0\.\d+\.cpuprofile$/.test(file)).sort()) {
    const summary = summarizeProfile(join(dir, name), top);
    const lines = (rows: Array<[string, number]>): string[] =>
      rows.map(([frame, share]) => `  ${(share * 100).toFixed(1).padStart(5)} %  ${frame}`);
    const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(name)?.[1]);
    parts.push(
      `${names[pid] ?? 'process'} (${name}): ${summary.busyMs.toFixed(0)} ms busy over its life, start-up included`,
      ' self:',
      ...lines(summary.self),
      ' inclusive:',
      ...lines(summary.inclusive),
      '',
    );
  }
  return parts.join('\n');
}
