// IPC between the storm orchestrator and its client processes.
import type { ClientRecord } from './storm-client.ts';

export interface StartMessage {
  type: 'start';
  /** ws://…/v1/session: the front's or the one broker's; with several (no front), client i
   *  gets them all starting at i mod n, so the clients are spread and each can fall back. */
  brokerUrls: string[];
  clients: Array<{ index: number; room: string }>;
  /** First joins per second from this process (start-up is paced, it is not the storm). */
  rampPerSecond: number;
}

export type ToClients = StartMessage | { type: 'status' } | { type: 'report' } | { type: 'stop' };

export interface StatusMessage {
  type: 'status';
  total: number;
  joined: number;
  closed: number;
  /** Joined clients per server id. */
  servers: Record<string, number>;
  /** Clients whose first join failed for good. */
  failedFirstJoins: number;
  /** Error codes of failed first-join attempts (retried ones included). */
  firstJoinErrors: Record<string, number>;
}

export interface ReportMessage {
  type: 'report';
  records: ClientRecord[];
  /** Epoch ms of every broker request this process sent. */
  requestTimes: number[];
}

export type FromClients = { type: 'ready' } | StatusMessage | ReportMessage;
