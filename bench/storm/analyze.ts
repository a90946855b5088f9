// Turns the simulated clients' records into the storm's verdict: detection and rejoin
// times, lost sessions, split rooms, false failovers and the broker request peak per 100 ms.
import { quantileOf } from '../lib/histogram.ts';
import type { ClientRecord, FailoverRecord } from './storm-client.ts';

export interface Spread {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface StormVerdict {
  clients: number;
  rooms: number;
  affectedClients: number;
  affectedRooms: number;
  /** ms from the kill/stop to each affected client's detection. */
  detectionMs: Spread;
  /** ms from the kill/stop until every member of an affected room joined one common server. */
  roomRejoinMs: Spread;
  /** ms from the kill/stop to each affected client's own rejoin. */
  clientRejoinMs: Spread;
  /** ms from the kill/stop to the broker's answer that client rejoined with (the broker's part). */
  brokerAnswerMs: Spread;
  /** ms from that answer to the client's rejoin (media WebSocket, join, ICE restarts: the rest). */
  afterAnswerMs: Spread;
  affectedNotRejoined: number;
  /** Sessions not joined at the end, ended with an error, or back under another peer id. */
  lostSessions: number;
  lostDetail: { notJoined: number; newPeerId: number; fatal: Record<string, number> };
  /** Rooms whose joined members are on more than one server at the end. */
  splitRooms: number;
  /** The same at the moment of the failure (a split the failure did not cause). */
  splitRoomsBefore: number;
  /** The first few split rooms and clients not back, for diagnosis: who was where, in what state. */
  anomalies: Array<{
    why: 'split' | 'not rejoined' | 'false failover';
    room: string;
    members: MemberState[];
  }>;
  /** Clients of healthy servers that failed over anyway. */
  falseFailovers: number;
  /** Why they did, by the SDK's reason (ping-timeout: a late server; closed; migrate: told to). */
  falseFailoverReasons: Record<string, number>;
  /** Failover attempts that failed, by error code. */
  attemptErrors: Record<string, number>;
  /** Clients whose broker socket the broker's side ended after the failure (a broker killed). */
  brokerSocketsLost: number;
  maxAttempts: number;
  broker: {
    requests: number;
    /** Most broker requests in one 100 ms bin after the failure. */
    peakPer100ms: number;
    /** The peak had every affected client asked at the moment it detected (no jitter). */
    noJitterPeakPer100ms: number;
    /** Requests per 100 ms bin from the failure on (for the chart). */
    bins: number[];
    /** Detections per 100 ms bin (what un-jittered clients would have sent). */
    detectionBins: number[];
  };
}

export interface MemberState {
  index: number;
  state: string;
  serverBefore: string | null;
  serverAfter: string | null;
  /** Failovers since the failure: from → to (to '' while unfinished), why, detection ms after t0. */
  failovers: string[];
}

const MAX_ANOMALIES = 10;

export interface AnalyzeInput {
  /** Each client's record at the moment of the failure (who was where). */
  before: readonly ClientRecord[];
  /** Each client's record at the end of the phase. */
  after: readonly ClientRecord[];
  victim: string;
  /** Epoch ms of the kill/stop. */
  t0: number;
  requestTimes: readonly number[];
  /** Length of the request chart, ms from t0. */
  horizonMs: number;
}

function spread(values: number[]): Spread {
  return {
    n: values.length,
    p50: quantileOf(values, 0.5),
    p99: quantileOf(values, 0.99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

function bin(times: Iterable<number>, t0: number, horizonMs: number): number[] {
  const bins = new Array<number>(Math.ceil(horizonMs / 100)).fill(0);
  for (const time of times) {
    const index = Math.floor((time - t0) / 100);
    if (index >= 0 && index < bins.length) bins[index] = bins[index]! + 1;
  }
  return bins;
}

/** The failover a client started because of this failure (detected at or after t0). */
function failoverAfter(record: ClientRecord, t0: number): FailoverRecord | undefined {
  return record.failovers.find((failover) => failover.detectedAt >= t0);
}

export function analyzeStorm(input: AnalyzeInput): StormVerdict {
  const { t0, victim } = input;
  const serverBefore = new Map(input.before.map((record) => [record.index, record.serverId]));
  const members = new Map<string, ClientRecord[]>();
  for (const record of input.after) {
    const list = members.get(record.room);
    if (list === undefined) members.set(record.room, [record]);
    else list.push(record);
  }

  const detection: number[] = [];
  const clientRejoin: number[] = [];
  const brokerAnswer: number[] = [];
  const afterAnswer: number[] = [];
  const detectionTimes: number[] = [];
  const attemptErrors: Record<string, number> = {};
  let affectedClients = 0;
  let affectedNotRejoined = 0;
  let falseFailovers = 0;
  const falseFailoverReasons: Record<string, number> = {};
  const falseFailoverRooms: string[] = [];
  let maxAttempts = 0;
  for (const record of input.after) {
    const failover = failoverAfter(record, t0);
    const affected = serverBefore.get(record.index) === victim;
    if (!affected) {
      if (failover !== undefined) {
        falseFailovers += 1;
        falseFailoverReasons[failover.reason] = (falseFailoverReasons[failover.reason] ?? 0) + 1;
        if (falseFailoverRooms.length < 3 && !falseFailoverRooms.includes(record.room))
          falseFailoverRooms.push(record.room);
      }
      continue;
    }
    affectedClients += 1;
    if (failover === undefined) {
      affectedNotRejoined += 1;
      continue;
    }
    detection.push(failover.detectedAt - t0);
    detectionTimes.push(failover.detectedAt);
    maxAttempts = Math.max(maxAttempts, failover.attempts);
    for (const code of failover.errors) attemptErrors[code] = (attemptErrors[code] ?? 0) + 1;
    if (failover.rejoinedAt > 0 && record.state === 'joined') {
      clientRejoin.push(failover.rejoinedAt - t0);
      if (failover.assignedAt > 0) {
        brokerAnswer.push(failover.assignedAt - t0);
        afterAnswer.push(failover.rejoinedAt - failover.assignedAt);
      }
    } else affectedNotRejoined += 1;
  }

  const roomRejoin: number[] = [];
  let affectedRooms = 0;
  let splitRooms = 0;
  for (const list of members.values()) {
    const servers = new Set(
      list.filter((record) => record.state === 'joined' && record.serverId !== null).map((r) => r.serverId),
    );
    if (servers.size > 1) splitRooms += 1;
    if (!list.some((record) => serverBefore.get(record.index) === victim)) continue;
    affectedRooms += 1;
    const rejoins = list.map((record) => {
      const failover = failoverAfter(record, t0);
      return record.state === 'joined' && failover !== undefined && failover.rejoinedAt > 0
        ? failover.rejoinedAt
        : Number.NaN;
    });
    // A room is back when its last member is, and only if they all share one server.
    if (servers.size === 1 && rejoins.every((at) => !Number.isNaN(at)))
      roomRejoin.push(Math.max(...rejoins) - t0);
  }

  const splitOf = (records: readonly ClientRecord[]): Set<string> => {
    const servers = new Map<string, Set<string>>();
    for (const record of records) {
      if (record.state !== 'joined' || record.serverId === null) continue;
      const set = servers.get(record.room) ?? new Set<string>();
      set.add(record.serverId);
      servers.set(record.room, set);
    }
    return new Set([...servers].filter(([, set]) => set.size > 1).map(([room]) => room));
  };
  const splitBefore = splitOf(input.before);
  const anomalies: StormVerdict['anomalies'] = [];
  const membersOf = (room: string): MemberState[] =>
    (members.get(room) ?? []).map((record) => ({
      index: record.index,
      state: record.state,
      serverBefore: serverBefore.get(record.index) ?? null,
      serverAfter: record.serverId,
      failovers: record.failovers
        .filter((failover) => failover.detectedAt >= t0)
        .map(
          (failover) =>
            `${failover.from}→${failover.to} (${failover.reason}) at ${Math.round(failover.detectedAt - t0)} ms`,
        ),
    }));
  for (const room of falseFailoverRooms)
    anomalies.push({ why: 'false failover', room, members: membersOf(room) });
  for (const room of splitOf(input.after)) {
    if (anomalies.length < MAX_ANOMALIES) anomalies.push({ why: 'split', room, members: membersOf(room) });
  }
  for (const record of input.after) {
    if (anomalies.length >= MAX_ANOMALIES) break;
    if (serverBefore.get(record.index) !== victim) continue;
    const failover = failoverAfter(record, t0);
    const back = failover !== undefined && failover.rejoinedAt > 0 && record.state === 'joined';
    if (!back && !anomalies.some((anomaly) => anomaly.room === record.room))
      anomalies.push({ why: 'not rejoined', room: record.room, members: membersOf(record.room) });
  }

  const fatal: Record<string, number> = {};
  let notJoined = 0;
  let newPeerId = 0;
  let lostSessions = 0;
  for (const record of input.after) {
    const lost =
      record.state !== 'joined' || record.fatal !== null || record.sessionId !== record.firstSessionId;
    if (record.state !== 'joined') notJoined += 1;
    if (record.state === 'joined' && record.sessionId !== record.firstSessionId) newPeerId += 1;
    if (record.fatal !== null) fatal[record.fatal] = (fatal[record.fatal] ?? 0) + 1;
    if (lost) lostSessions += 1;
  }

  const brokerSocketsLost = input.after.filter((record) =>
    record.brokerSocketLostAt.some((at) => at >= t0),
  ).length;

  const bins = bin(input.requestTimes, t0, input.horizonMs);
  const detectionBins = bin(detectionTimes, t0, input.horizonMs);
  return {
    clients: input.after.length,
    rooms: members.size,
    affectedClients,
    affectedRooms,
    detectionMs: spread(detection),
    roomRejoinMs: spread(roomRejoin),
    clientRejoinMs: spread(clientRejoin),
    brokerAnswerMs: spread(brokerAnswer),
    afterAnswerMs: spread(afterAnswer),
    affectedNotRejoined,
    lostSessions,
    lostDetail: { notJoined, newPeerId, fatal },
    splitRooms,
    splitRoomsBefore: splitBefore.size,
    anomalies,
    falseFailovers,
    falseFailoverReasons,
    attemptErrors,
    brokerSocketsLost,
    maxAttempts,
    broker: {
      requests: input.requestTimes.filter((time) => time >= t0 && time < t0 + input.horizonMs).length,
      peakPer100ms: Math.max(0, ...bins),
      noJitterPeakPer100ms: Math.max(0, ...detectionBins),
      bins,
      detectionBins,
    },
  };
}

/** Rooms of 2–8 members (uniform); the last is evened out with its neighbour so none is below min. */
export function roomSizes(clients: number, random: () => number, min = 2, max = 8): number[] {
  const sizes: number[] = [];
  let left = clients;
  while (left > 0) {
    const size = Math.min(left, min + Math.floor(random() * (max - min + 1)));
    sizes.push(size);
    left -= size;
  }
  const last = sizes.length - 1;
  if (last > 0 && sizes[last]! < min) {
    // Borrow from the previous room when it can spare members, else merge the two.
    const need = min - sizes[last]!;
    if (sizes[last - 1]! - need >= min) {
      sizes[last - 1] = sizes[last - 1]! - need;
      sizes[last] = min;
    } else {
      sizes[last - 1] = sizes[last - 1]! + sizes.pop()!;
    }
  }
  return sizes;
}

/** A small seeded PRNG (mulberry32) so a run's rooms can be reproduced. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
