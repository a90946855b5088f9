// The report as text: the measurement table, the ratios against the issue's targets and the
// storm verdicts, for stdout and for docs/PERFORMANCE.md (Markdown) alike.

import type { LoadWindow } from '../storm/load-sampler.ts';
import type { StormPhaseResult } from '../storm/run-storm.ts';
import type { BenchReport } from './types.ts';

const fixed = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const whole = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';

export function renderTable(header: string[], rows: string[][], markdown: boolean): string {
  if (markdown) {
    const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
    return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function measurementTable(report: BenchReport, markdown = false): string {
  const header = [
    'scenario',
    'ops/s',
    'p50 ms',
    'p99 ms',
    'p999 ms',
    'CPU µs/op',
    'server core %',
    'client core %',
    'errors',
  ];
  const rows = report.measurements.map((m) => [
    m.id,
    whole(m.opsPerSec),
    fixed(m.p50Ms, 2),
    fixed(m.p99Ms, 2),
    fixed(m.p999Ms, 2),
    Object.values(m.cpuUsPerOpByRole).filter((us) => us > 0).length > 1
      ? `${fixed(m.cpuUsPerOp)} (${Object.entries(m.cpuUsPerOpByRole)
          .filter(([, us]) => us > 0)
          .map(([role, us]) => `${role} ${fixed(us)}`)
          .join(' + ')})`
      : fixed(m.cpuUsPerOp),
    whole(m.serverBusyPct),
    whole(m.clientBusyPct),
    String(m.errors),
  ]);
  return renderTable(header, rows, markdown);
}

export function ratioTable(report: BenchReport, markdown = false): string {
  const header = ['ratio', 'value', 'target', 'met', 'from'];
  const rows = report.ratios.map((r) => [
    r.label,
    `${fixed(r.value, 2)}×`,
    r.target,
    r.met ? 'yes' : 'NO',
    r.formula,
  ]);
  return renderTable(header, rows, markdown);
}

export function calibrationTable(report: BenchReport, markdown = false): string {
  const header = [
    'a server doing the target multiple of the work of',
    'busy µs added per request',
    'measures',
    'Usher measures',
    'Usher within that work',
  ];
  const rows = (report.calibration ?? []).map((c) => [
    `${c.reference} × ${c.factor} (${c.id})`,
    fixed(c.workUs),
    `${fixed(c.ratio, 2)}×`,
    `${fixed(c.ratio * c.usherVsTwin, 2)}× (${c.usher})`,
    c.usherVsTwin <= 1 ? 'yes' : 'NO',
  ]);
  return renderTable(header, rows, markdown);
}

export function stormTable(report: BenchReport, markdown = false): string {
  const header = [
    'storm',
    'clients',
    'affected',
    'detect p50/p99/max ms',
    'room rejoin p50/p99/max ms',
    'broker answered p50/p99 ms, client back after it p50/p99 ms',
    'lost',
    'split',
    'false failovers',
    'broker req peak /100 ms (no jitter)',
    'media µs/ping',
  ];
  const rows = report.storm.map((s) => [
    stormName(s),
    String(s.clients),
    `${s.affectedClients} in ${s.affectedRooms} rooms${s.failure === 'BROKER_SIGKILL' ? ` (${s.brokerSocketsLost} broker sockets lost)` : ''}`,
    `${whole(s.detectionMs.p50)} / ${whole(s.detectionMs.p99)} / ${whole(s.detectionMs.max)}`,
    `${whole(s.roomRejoinMs.p50)} / ${whole(s.roomRejoinMs.p99)} / ${whole(s.roomRejoinMs.max)}`,
    s.brokerAnswerMs === undefined
      ? '—'
      : `${whole(s.brokerAnswerMs.p50)} / ${whole(s.brokerAnswerMs.p99)}, ${whole(s.afterAnswerMs.p50)} / ${whole(s.afterAnswerMs.p99)}`,
    String(s.lostSessions),
    String(s.splitRooms),
    String(s.falseFailovers),
    `${s.broker.peakPer100ms} (${s.broker.noJitterPeakPer100ms})`,
    fixed(s.steady?.mediaCpuUsPerPing ?? Number.NaN),
  ]);
  return renderTable(header, rows, markdown);
}

function stormName(s: StormPhaseResult): string {
  return `${(s.step ?? 1) > 1 ? `then ` : ''}${s.failure} ${s.victim}`;
}

const pct = (value: number | undefined): string => (value === undefined ? '—' : `${Math.round(value)}`);

/** Peak (and mean) load of the fleet's processes, sampled every 250 ms: joins, and each failure. */
export function stormLoadTable(report: BenchReport, markdown = false): string {
  const header = [
    'storm window',
    'seconds',
    'load avg',
    'broker core % peak (mean), each',
    'Redis core % peak (mean)',
    'Redis commands/s peak (mean)',
    'HAProxy core % peak (mean)',
    'media core % peak, all',
    'client core % peak, all (busiest process)',
  ];
  const rows: string[][] = [];
  const row = (name: string, load: LoadWindow, loadAverage: number | undefined): void => {
    const brokers = Object.keys(load.cpu)
      .filter((key) => key.startsWith('broker '))
      .map((key) => `${key.slice(7)} ${pct(load.cpu[key]!.peakPct)} (${pct(load.cpu[key]!.meanPct)})`);
    const one = (key: string): string =>
      load.cpu[key] === undefined ? '—' : `${pct(load.cpu[key]!.peakPct)} (${pct(load.cpu[key]!.meanPct)})`;
    rows.push([
      name,
      fixed(load.seconds, 1),
      loadAverage === undefined ? '—' : fixed(loadAverage, 1),
      brokers.join(', '),
      one('redis'),
      load.redis === undefined
        ? '—'
        : `${whole(load.redis.peakOpsPerSecond)} (${whole(load.redis.meanOpsPerSecond)})`,
      one('haproxy'),
      pct(load.cpu.media?.peakPct),
      `${pct(load.cpu['client processes']?.peakPct)} (${pct(load.busiestProcessPeakPct['client processes'])})`,
    ]);
  };
  for (const s of report.storm) {
    if (s.load === undefined) continue;
    if (s.rampLoad !== undefined) row(`${s.clients} first joins`, s.rampLoad, undefined);
    if (s.steadyLoad !== undefined) row(`quiet before ${stormName(s)}`, s.steadyLoad, undefined);
    row(stormName(s), s.load, s.loadAverage);
  }
  return renderTable(header, rows, markdown);
}

export function stormTargets(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const s of report.storm) {
    const t = s.targets;
    const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    lines.push(
      `${stormName(s)}: detection p99 ${whole(s.detectionMs.p99)} ms ≤ ${t.detectionP99Ms.limit} ms ${mark(t.detectionP99Ms.met)}; ` +
        `room rejoin p99 ${whole(s.roomRejoinMs.p99)} ms ≤ ${t.roomRejoinP99Ms.limit} ms ${mark(t.roomRejoinP99Ms.met)}; ` +
        `lost ${s.lostSessions} ${mark(t.lost)}; split ${s.splitRooms} ${mark(t.split)}; ` +
        `false failovers ${s.falseFailovers}${s.falseFailovers > 0 ? ` ${JSON.stringify(s.falseFailoverReasons ?? {})}` : ''} ${mark(t.falseFailovers)}; ` +
        `every affected client rejoined ${mark(t.everyoneRejoined)} (${s.affectedNotRejoined} not)`,
    );
  }
  return lines;
}

export function steadyTable(report: BenchReport, markdown = false): string {
  const header = [
    'steady',
    'clients',
    'open',
    'pongs/s',
    'server µs/ping',
    'server core %',
    'client core %',
    'RSS MB (idle)',
    'RSS kB/client',
    'rtt p50/p99/max ms',
    'late / missing / closed',
    'all inside timeout',
    'load avg',
  ];
  const rows = (report.steady ?? []).map((p) => [
    p.target === 'media' ? 'media server' : 'bare ws echo',
    whole(p.clients),
    whole(p.open),
    whole(p.pongs / (p.windowMs / 1000)),
    fixed(p.serverCpuUsPerPing),
    whole(p.serverBusyPct),
    whole(p.clientBusyPct),
    `${whole(p.rssMb)} (${whole(p.rssIdleMb)})`,
    fixed(p.rssKbPerClient),
    `${fixed(p.rttP50Ms, 2)} / ${fixed(p.rttP99Ms, 1)} / ${fixed(p.rttMaxMs, 0)}`,
    `${p.late} / ${p.missing} / ${p.closed}`,
    p.sustained ? 'yes' : 'NO',
    fixed(p.loadAverage),
  ]);
  return renderTable(header, rows, markdown);
}

export function controlTable(report: BenchReport, markdown = false): string {
  const header = [
    'control channel',
    'registered',
    'closed',
    'reports/s',
    'broker µs/report',
    'broker core %',
    'load avg',
  ];
  const rows = (report.control ?? []).map((p) => [
    `${whole(p.servers)} fake media servers`,
    whole(p.registered),
    String(p.closed),
    whole(p.reportsPerSecond),
    fixed(p.brokerCpuUsPerReport),
    whole(p.brokerBusyPct),
    fixed(p.loadAverage),
  ]);
  return renderTable(header, rows, markdown);
}

export function joinLatencyTable(report: BenchReport, markdown = false): string {
  const header = [
    'join latency (POST on a new connection → joined)',
    'asked /s',
    'joins/s',
    'joins',
    'errors',
    'p50 / p99 / p999 / max ms',
    'CPU µs/join (broker + media)',
    'server core %',
    'client core %',
  ];
  const rows = (report.joinLatency ?? []).map((p) => [
    p.load === 'max' ? 'sustainable rate (closed loop)' : `${p.load} of it`,
    p.targetPerSecond === null ? '—' : whole(p.targetPerSecond),
    whole(p.joinsPerSecond),
    whole(p.joins),
    String(p.errors),
    `${fixed(p.p50Ms, 2)} / ${fixed(p.p99Ms)} / ${fixed(p.p999Ms)} / ${fixed(p.maxMs, 0)}`,
    `${fixed(p.cpuUsPerJoin.broker + p.cpuUsPerJoin.media)} (${fixed(p.cpuUsPerJoin.broker)} + ${fixed(p.cpuUsPerJoin.media)})`,
    whole(p.serverBusyPct),
    whole(p.clientBusyPct),
  ]);
  return renderTable(header, rows, markdown);
}

export function scaleTable(report: BenchReport, markdown = false): string {
  const header = [
    'servers',
    'pinned rooms',
    'existing room µs',
    'new room µs',
    'failover move µs',
    'load report µs',
    'server lost ms',
    'heap B/room',
  ];
  const rows = report.scale.map((p) => [
    String(p.servers),
    whole(p.rooms),
    fixed(p.existingRoomUs),
    fixed(p.newRoomUs),
    fixed(p.failoverUs),
    fixed(p.loadReportUs),
    fixed(p.serverLostMs, 2),
    // A negative growth is the heap's own noise, not a measure.
    p.heapPerRoomBytes > 0 ? whole(p.heapPerRoomBytes) : 'n/a',
  ]);
  return renderTable(header, rows, markdown);
}

export function partsTable(report: BenchReport, markdown = false): string {
  const rows = Object.entries(report.parts).map(([name, us]) => [name, fixed(us, 2)]);
  return renderTable(['piece (in-process)', 'CPU µs per call'], rows, markdown);
}

export function textReport(report: BenchReport): string {
  const parts = [
    `Usher bench — ${report.date}`,
    `machine: ${report.machine.cores} cores, ${report.machine.model}, node ${report.machine.node}, Linux ${report.machine.kernel}`,
    `pinning: ${report.pinning}`,
    '',
  ];
  if (report.measurements.length > 0) parts.push(measurementTable(report), '');
  if (report.ratios.length > 0) parts.push(ratioTable(report), '');
  if ((report.calibration ?? []).length > 0) parts.push(calibrationTable(report), '');
  if (report.storm.length > 0) parts.push(stormTable(report), '', ...stormTargets(report), '');
  if (report.storm.some((s) => s.load !== undefined)) parts.push(stormLoadTable(report), '');
  if ((report.steady ?? []).length > 0) parts.push(steadyTable(report), '');
  if ((report.control ?? []).length > 0) parts.push(controlTable(report), '');
  if ((report.joinLatency ?? []).length > 0) parts.push(joinLatencyTable(report), '');
  if (report.scale.length > 0)
    parts.push('broker CPU by fleet and rooms (in-process, no sockets):', scaleTable(report), '');
  if (Object.keys(report.parts ?? {}).length > 0) parts.push(partsTable(report), '');
  for (const note of report.notes) parts.push(`note: ${note}`);
  return parts.join('\n');
}
