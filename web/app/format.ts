// Words the person reads: durations, RTT, the failover and waiting banners, and what each
// error means for them (kept apart from the components so the wording tests read one place).
import type { FailoverRecord, RetryingEvent, UsherClientErrorCode } from '../sdk/index.ts';

export function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

export function rttText(ms: number | null): string {
  return ms === null ? '—' : `${Math.round(ms)} ms`;
}

const REASONS: Record<string, string> = {
  'ping-timeout': 'the server stopped responding',
  closed: 'the connection to the server was lost',
  migrate: 'the server is being restarted for maintenance',
};

export function reasonText(reason: string): string {
  return REASONS[reason] ?? 'the connection to the server was lost';
}

export function reconnectingText(reason: string): string {
  return `Reconnecting… ${reasonText(reason)}. Your call keeps going where it can.`;
}

/** How long the people in the call were without a server: from the last sign of life to back. */
export function movedText(record: FailoverRecord): string {
  return `Moved to a new server: back in ${seconds(record.rejoinedAt - record.lostAt)}.`;
}

export function waitingText(retryInMs: number): string {
  const s = Math.max(0, Math.ceil(retryInMs / 1000));
  return s === 0 ? 'Waiting for a server… retrying now' : `Waiting for a server… retrying in ${s} s`;
}

/** Why a retry is needed, when it adds something a person can use. */
export function retryReason(event: Pick<RetryingEvent, 'code'>): string | null {
  switch (event.code) {
    case 'NO_SERVER_AVAILABLE':
      return 'No call server is free right now.';
    case 'RATE_LIMITED':
    case 'TOO_MANY_IN_FLIGHT':
      return 'The service is busy.';
    case 'BROKER_UNREACHABLE':
    case 'TIMEOUT':
      return 'The service cannot be reached. Check your internet connection.';
    default:
      return null;
  }
}

/** A sentence for an error that ends the attempt: what happened and what to do. */
export function errorText(code: UsherClientErrorCode | string, detail = ''): string {
  switch (code) {
    case 'GAVE_UP':
      return 'No server could take the call for a while, so we stopped trying. Check your connection and press Retry.';
    case 'ROOM_FULL':
      return 'This room is full. Ask someone to leave, or pick another room.';
    case 'UNSUPPORTED_VERSION':
      return 'This page is out of date. Reload it to get the current version.';
    case 'UNAUTHORIZED':
    case 'FORBIDDEN_ORIGIN':
      return 'This page is not allowed to start calls on this service. Ask whoever sent you the link.';
    case 'SESSION_REPLACED':
      return 'You joined this call from another tab or device, so this one stepped out.';
    case 'BAD_MESSAGE':
    case 'BAD_JSON':
    case 'UNKNOWN_TYPE':
    case 'FRAME_TOO_LARGE':
      return 'The service did not accept the request. Reload the page; if it happens again, report it.';
    default:
      return `The call could not continue. Press Retry.${detail === '' ? '' : ` (${detail})`}`;
  }
}
