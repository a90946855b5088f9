// The check a client makes before it dials an assigned server: the seat confirmation (signed by
// that server, unreadable to the client's eyes as a MAC) must at least name that server, its URL
// and the room. A broker, a proxy or a bug that pairs one server's seat with another's address
// is caught here, before any socket is opened.
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { UsherClientError } from './errors.ts';

/** Throws UsherClientError SEAT_MISMATCH unless `assigned.seat` (when present) names `assigned.server` and room. */
export function checkSeat(assigned: SessionAssigned): void {
  const seat = assigned.seat;
  if (seat === undefined) return;
  const payload = seatPayload(seat);
  const { id, url } = assigned.server;
  if (payload === undefined) throw UsherClientError.seatMismatch(id, 'is unreadable');
  if (payload.srv !== id) throw UsherClientError.seatMismatch(id, `names server ${String(payload.srv)}`);
  if (payload.url !== url) throw UsherClientError.seatMismatch(id, 'names another URL');
  if (payload.room !== assigned.room) throw UsherClientError.seatMismatch(id, 'names another room');
}

/** The JSON payload of a compact JWS, unverified; undefined when it is not one. */
export function seatPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
