// IPC between the steady-state orchestrator and its client processes.
import type { HistogramJson } from '../lib/histogram.ts';

export interface SteadyStart {
  type: 'start';
  /** `media`: POST /v1/sessions to the broker, join the media server, then ping; `echo`: ping a bare ws echo. */
  target: 'media' | 'echo';
  /** Broker's http://host:port (media) or the echo's ws:// URL (echo). */
  url: string;
  clients: number;
  /** Rooms are `<prefix>-<n>`, `roomSize` clients each. */
  roomPrefix: string;
  roomSize: number;
  /** Connections (and joins) opened per second by this process. */
  rampPerSecond: number;
  intervalMs: number;
  timeoutMs: number;
}

export type ToSteadyClients =
  | SteadyStart
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'stop' };

export interface SteadyWindow {
  type: 'window';
  pings: number;
  pongs: number;
  /** Pongs that came back later than timeoutMs. */
  late: number;
  /** Pings still unanswered after timeoutMs. */
  missing: number;
  /** Connections that closed during the window. */
  closed: number;
  rttUs: HistogramJson;
  /** This process's CPU over the window, as a share of one core. */
  clientBusy: number;
}

export type FromSteadyClients =
  | { type: 'ready' }
  | {
      type: 'connected';
      open: number;
      failed: number;
      /** Join attempts made again after a failed one (the failures are in `errors`). */
      retries: number;
      errors: Record<string, number>;
    }
  | SteadyWindow;
