// How many WebSockets the broker holds open, per client address and in total, so that one
// address cannot take every file descriptor: session and control sockets are counted apart
// (a flood of session sockets must never keep a media server from registering), and the
// total of session sockets stays below the open-file limit less a reserve (docs/SECURITY.md).
import { readFileSync } from 'node:fs';
import { IpBudget } from './ip-budget.ts';

/** Why an upgrade is refused by a connection limit; the label of the refusal metric. */
export type ConnectionLimitHit = 'per-address' | 'total';

/**
 * Open connections per address key (IPv6 by its /64, as the request budget counts them) and in
 * total. A key is forgotten when its last connection closes, so the map holds only live ones.
 */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(
    /** Most open connections one address key may hold. */
    readonly perAddress: number,
    /** Most open connections in all. */
    readonly maxTotal: number,
  ) {}

  /** The key an address is counted under. */
  static key(address: string): string {
    return address.indexOf(':') === -1 ? address : IpBudget.key(address);
  }

  /** Which limit would refuse one more connection under `key`, if any (counts nothing). */
  check(key: string): ConnectionLimitHit | undefined {
    if (this.total >= this.maxTotal) return 'total';
    if ((this.open.get(key) ?? 0) >= this.perAddress) return 'per-address';
    return undefined;
  }

  /** Counts one more connection under `key`, or says which limit refuses it. */
  tryOpen(key: string): ConnectionLimitHit | undefined {
    const hit = this.check(key);
    if (hit !== undefined) return hit;
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    this.total++;
    return undefined;
  }

  /** Forgets one connection counted under `key` by `tryOpen`. */
  close(key: string): void {
    const held = this.open.get(key);
    if (held === undefined) return;
    if (held <= 1) this.open.delete(key);
    else this.open.set(key, held - 1);
    this.total--;
  }

  get size(): number {
    return this.total;
  }

  heldBy(key: string): number {
    return this.open.get(key) ?? 0;
  }
}

/**
 * The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits; undefined
 * where that cannot be read (not Linux). Node raises its soft limit to the hard limit itself at
 * start-up, so this is as high as the process can go without the operator raising the hard limit.
 */
export function openFileLimit(
  readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number | undefined {
  let text: string;
  try {
    text = readLimits();
  } catch {
    return undefined;
  }
  const line = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (line === null) return undefined;
  return line[1] === 'unlimited' ? undefined : Number(line[1]);
}

/** Descriptors kept out of the session sockets' reach: control sockets, /healthz, logs, Redis, files. */
export const DEFAULT_DESCRIPTOR_RESERVE = 1024;
/** Session sockets allowed in total when the open-file limit is unknown. */
const FALLBACK_MAX_SESSION_SOCKETS = 20_000;

/** The default cap on open session sockets: the open-file limit less the reserve (at least 64). */
export function defaultMaxSessionSockets(
  fileLimit: number | undefined,
  reserve = DEFAULT_DESCRIPTOR_RESERVE,
): number {
  if (fileLimit === undefined) return FALLBACK_MAX_SESSION_SOCKETS;
  return Math.max(64, fileLimit - reserve);
}

/** The broker's connection limits and HTTP timeouts (docs/SECURITY.md, "Connection limits"). */
export interface ConnectionLimits {
  /** Open `/v1/session` sockets one address (IPv6: one /64) may hold. */
  sessionSocketsPerAddress: number;
  /** Open `/v1/session` sockets in all (default: the open-file limit less DEFAULT_DESCRIPTOR_RESERVE). */
  maxSessionSockets: number;
  /** A session socket that has made no request for this long is closed with IDLE_TIMEOUT (0: never). */
  sessionIdleTimeoutMs: number;
  /** Open `/v1/control` sockets one address may hold. */
  controlSocketsPerAddress: number;
  /**
   * New `/v1/control` connections per address and minute (0: unlimited). An unauthenticated
   * connection gets one frame (its register), so this also bounds unauthenticated frames.
   */
  controlConnectsPerMinute: number;
  /** New `/v1/control` connections one address may open at once after a quiet spell. */
  controlConnectBurst: number;
  /** Time a client has to send its request headers (answered 408 IDLE_TIMEOUT). */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request. */
  requestTimeoutMs: number;
  /** An idle keep-alive HTTP connection is closed after this. */
  keepAliveTimeoutMs: number;
}

/**
 * A thousand sockets per address leave room for a large NAT (one SDK session holds one socket
 * at a time); five idle minutes are far beyond a failover's need; a few media servers per host
 * reconnecting in a loop stay well inside 120 connections a minute.
 */
export const DEFAULT_CONNECTION_LIMITS: Omit<ConnectionLimits, 'maxSessionSockets'> = {
  sessionSocketsPerAddress: 1000,
  sessionIdleTimeoutMs: 5 * 60_000,
  controlSocketsPerAddress: 64,
  controlConnectsPerMinute: 120,
  controlConnectBurst: 60,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
};
