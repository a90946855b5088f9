// The targets: each Usher measurement against its limit or peer, as a ratio of server CPU per
// operation, and whether it meets the target.
import type { MeasurementSummary, RatioSummary } from '../report/types.ts';

export const RATIO_SPECS: Array<{
  id: string;
  label: string;
  usher: string;
  reference: string;
  target: number;
  atMost: boolean;
}> = [
  {
    id: 'assign.ws',
    label: 'assign over a kept WebSocket vs bare ws',
    usher: 'assign.ws',
    reference: 'limit.ws',
    target: 2,
    atMost: true,
  },
  {
    id: 'assign.conn',
    label: 'new-connection assign vs bare ws connect-request-close',
    usher: 'assign.conn',
    reference: 'limit.conn',
    target: 1.5,
    atMost: true,
  },
  {
    id: 'http',
    label: 'HTTP assign vs bare Fastify route',
    usher: 'http.usher',
    reference: 'http.fastify',
    target: 2,
    atMost: true,
  },
  {
    id: 'peer',
    label: 'joins per server-CPU-second, Usher vs Colyseus',
    usher: 'peer.usher',
    reference: 'peer.colyseus',
    target: 2.5,
    atMost: false,
  },
  {
    id: 'peer.cold',
    label: 'same, with the POST on a new connection too',
    usher: 'peer.usher.cold',
    reference: 'peer.colyseus.cold',
    target: 2.5,
    atMost: false,
  },
];

export function ratios(measurements: readonly MeasurementSummary[]): RatioSummary[] {
  const byId = new Map(measurements.map((m) => [m.id, m]));
  const out: RatioSummary[] = [];
  for (const spec of RATIO_SPECS) {
    const usher = byId.get(spec.usher);
    const reference = byId.get(spec.reference);
    if (usher === undefined || reference === undefined) continue;
    // "At most" ratios: Usher's cost over the limit's. The peer ratio is joins per CPU-second,
    // i.e. the peer's cost per join over Usher's.
    const value = spec.atMost
      ? usher.cpuUsPerOp / reference.cpuUsPerOp
      : reference.cpuUsPerOp / usher.cpuUsPerOp;
    out.push({
      id: spec.id,
      label: spec.label,
      formula: spec.atMost
        ? `${spec.usher} ÷ ${spec.reference} (server CPU µs per op)`
        : `${spec.reference} ÷ ${spec.usher} (server CPU µs per join)`,
      value,
      target: `${spec.atMost ? '≤' : '≥'} ${spec.target}`,
      met: spec.atMost ? value <= spec.target : value >= spec.target,
    });
  }
  return out;
}
