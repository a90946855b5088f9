// Prints a run's tables as Markdown, for docs/PERFORMANCE.md:
//   node --import tsx bench/report/markdown.ts bench-results/<run>/report.json
import { readFileSync } from 'node:fs';
import {
  calibrationTable,
  controlTable,
  joinLatencyTable,
  measurementTable,
  partsTable,
  ratioTable,
  scaleTable,
  steadyTable,
  stormLoadTable,
  stormTable,
  stormTargets,
} from './table.ts';
import type { BenchReport } from './types.ts';

const path = process.argv[2];
if (path === undefined) {
  console.error('usage: node --import tsx bench/report/markdown.ts <report.json>');
  process.exit(2);
}
const report = JSON.parse(readFileSync(path, 'utf8')) as BenchReport;
const parts = [
  `Run of ${report.date}: ${report.machine.cores} cores (${report.machine.model}), node ${report.machine.node}, Linux ${report.machine.kernel}; ${report.pinning}; ${report.config.durationS} s windows after ${report.config.warmupS} s warm-up, ${report.config.rounds} alternating rounds, ${report.config.clients} concurrent clients.`,
  '',
];
if (report.measurements.length > 0) parts.push(measurementTable(report, true), '');
if (report.ratios.length > 0) parts.push(ratioTable(report, true), '');
if ((report.calibration ?? []).length > 0) parts.push(calibrationTable(report, true), '');
if (report.storm.length > 0)
  parts.push(stormTable(report, true), '', ...stormTargets(report).map((line) => `- ${line}`), '');
if (report.storm.some((s) => s.load !== undefined)) parts.push(stormLoadTable(report, true), '');
if ((report.steady ?? []).length > 0) parts.push(steadyTable(report, true), '');
if ((report.control ?? []).length > 0) parts.push(controlTable(report, true), '');
if ((report.joinLatency ?? []).length > 0) parts.push(joinLatencyTable(report, true), '');
if (report.scale.length > 0) parts.push(scaleTable(report, true), '');
if (Object.keys(report.parts ?? {}).length > 0) parts.push(partsTable(report, true), '');
process.stdout.write(parts.join('\n'));
