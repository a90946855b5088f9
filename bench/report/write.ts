// Writes a run's files: report.json (everything), cpu.svg and storm-*.svg charts, and
// index.html putting the tables and charts on one page.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuChart, stormChart } from './charts.ts';
import { textReport } from './table.ts';
import type { BenchReport } from './types.ts';

const escapeXml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Returns the paths written. */
export function writeReport(report: BenchReport, dir: string): string[] {
  const written: string[] = [];
  const write = (name: string, content: string): void => {
    const path = join(dir, name);
    writeFileSync(path, content);
    written.push(path);
  };
  write('report.json', `${JSON.stringify(report, null, 2)}\n`);
  const charts: string[] = [];
  if (report.measurements.length > 0) {
    const svg = cpuChart(report);
    write('cpu.svg', svg);
    charts.push(svg);
  }
  for (const phase of report.storm) {
    const svg = stormChart(phase);
    const step = (phase.step ?? 1) > 1 ? `-step${phase.step}` : '';
    write(`storm-${phase.failure.toLowerCase()}${step}.svg`, svg);
    charts.push(svg);
  }
  write(
    'index.html',
    [
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Usher bench</title>',
      '<style>body{font-family:sans-serif;margin:2em;max-width:1100px}pre{background:#f3f4f6;padding:1em;overflow:auto}</style>',
      '</head><body><h1>Usher bench</h1>',
      `<pre>${escapeXml(textReport(report))}</pre>`,
      ...charts.map((svg) => `<div>${svg}</div>`),
      '</body></html>',
    ].join('\n'),
  );
  return written;
}
