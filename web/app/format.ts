// Text the UI shows for durations, RTT and the failover banner (kept apart from the
// components so the wording tests read one place).
import type { FailoverRecord } from '../sdk/index.ts';

export function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

export function rttText(ms: number | null): string {
  return ms === null ? '—' : `${Math.round(ms)} ms`;
}

const REASONS: Record<string, string> = {
  'ping-timeout': 'server stopped answering pings',
  closed: 'connection to the server closed',
  migrate: 'server is draining',
};

export function reasonText(reason: string): string {
  return REASONS[reason] ?? reason;
}

export function reconnectingText(from: string, reason: string): string {
  return `Reconnecting… (${reasonText(reason)}: ${from})`;
}

export function movedText(record: FailoverRecord): string {
  return (
    `Moved to ${record.to} from ${record.from} — ` +
    `detected in ${seconds(record.detectedAt - record.lostAt)}, ` +
    `rejoined in ${seconds(record.rejoinedAt - record.detectedAt)}`
  );
}
