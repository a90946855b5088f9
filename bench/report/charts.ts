// SVG charts of a report, written by hand (no dependency): server CPU per operation for
// each pair side by side, and broker requests per 100 ms after a failure, jittered vs not.

import type { StormPhaseResult } from '../storm/run-storm.ts';
import type { BenchReport, MeasurementSummary } from './types.ts';

const escapeXml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const COLORS: Record<string, string> = {
  usher: '#2563eb',
  ws: '#9ca3af',
  fastify: '#9ca3af',
  colyseus: '#f97316',
};

/** Horizontal bars: CPU µs per operation, Usher and its reference one under the other. */
export function cpuChart(report: BenchReport): string {
  const rows: MeasurementSummary[] = report.measurements;
  const width = 760;
  const left = 330;
  const barHeight = 18;
  const gap = 8;
  const top = 40;
  const height = top + rows.length * (barHeight + gap) + 30;
  const max = Math.max(1, ...rows.map((row) => (Number.isFinite(row.cpuUsPerOp) ? row.cpuUsPerOp : 0)));
  const scale = (width - left - 90) / max;
  const bars = rows
    .map((row, index) => {
      const y = top + index * (barHeight + gap);
      const value = Number.isFinite(row.cpuUsPerOp) ? row.cpuUsPerOp : 0;
      const color = COLORS[row.system] ?? '#6b7280';
      return [
        `<text x="${left - 8}" y="${y + barHeight - 5}" text-anchor="end">${escapeXml(row.id)} (${escapeXml(row.system)})</text>`,
        `<rect x="${left}" y="${y}" width="${Math.max(1, value * scale).toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
        `<text x="${(left + value * scale + 6).toFixed(1)}" y="${y + barHeight - 5}">${value.toFixed(1)} µs</text>`,
      ].join('');
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Server CPU µs per operation (lower is better) — ${escapeXml(report.date.slice(0, 10))}</text>`,
    bars,
    `<text x="10" y="${height - 8}" fill="#6b7280">${escapeXml(report.pinning)}</text>`,
    '</svg>',
  ].join('\n');
}

/** Vertical bars per 100 ms: broker requests sent (jittered), with detections (un-jittered) as a line. */
export function stormChart(phase: StormPhaseResult): string {
  const bins = phase.broker.bins;
  const detections = phase.broker.detectionBins;
  const width = 760;
  const height = 260;
  const left = 50;
  const bottom = 40;
  const top = 40;
  const plotWidth = width - left - 20;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...bins, ...detections);
  const step = plotWidth / Math.max(1, bins.length);
  const y = (value: number): number => top + plotHeight - (value / max) * plotHeight;
  const bars = bins
    .map(
      (value, index) =>
        `<rect x="${(left + index * step + 1).toFixed(1)}" y="${y(value).toFixed(1)}" width="${Math.max(1, step - 2).toFixed(1)}" height="${(top + plotHeight - y(value)).toFixed(1)}" fill="#2563eb"/>`,
    )
    .join('');
  const line = detections
    .map((value, index) => `${(left + index * step + step / 2).toFixed(1)},${y(value).toFixed(1)}`)
    .join(' ');
  const ticks: string[] = [];
  for (let index = 0; index <= bins.length; index += 10) {
    const x = left + index * step;
    ticks.push(
      `<line x1="${x}" y1="${top + plotHeight}" x2="${x}" y2="${top + plotHeight + 4}" stroke="#000"/>`,
    );
    ticks.push(`<text x="${x}" y="${top + plotHeight + 16}" text-anchor="middle">${index / 10} s</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(phase.failure)} of ${escapeXml(phase.victim)}: broker requests per 100 ms (peak ${phase.broker.peakPer100ms}; ${phase.broker.noJitterPeakPer100ms} without jitter)</text>`,
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#000"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#000"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${max}</text>`,
    `<text x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>`,
    bars,
    `<polyline points="${line}" fill="none" stroke="#f97316" stroke-width="2"/>`,
    ticks.join(''),
    `<text x="${left}" y="${height - 6}"><tspan fill="#2563eb">■ requests sent (full-jitter backoff)</tspan>  <tspan fill="#f97316">— detections: requests if every client asked at once</tspan></text>`,
    '</svg>',
  ].join('\n');
}
