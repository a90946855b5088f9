// Storm client process: hosts a share of the browsers (real SDK sessions, fake RTC), joins them
// at a paced rate, answers status polls and hands over every client's record when asked.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../web/sdk/clock.ts';
import type { FromClients, StartMessage, ToClients } from './messages.ts';
import { StormClient } from './storm-client.ts';

// Sub-millisecond epoch time, comparable across the bench's processes.
const clock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const sessions: StormClient[] = [];
const requestTimes: number[] = [];
let failedFirstJoins = 0;
const firstJoinErrors: Record<string, number> = {};
const FIRST_JOIN_ATTEMPTS = 3;
const MAX_REQUEST_TIMES = 1_000_000;

function send(message: FromClients): void {
  process.send?.(message);
}

/** The SDK retries a transient failure itself until its policy gives up; then, as a person
 *  clicks Join again, the bench tries again after a second, a bounded number of times:
 *  start-up is not what the storm measures, but every give-up is counted. */
async function firstJoin(session: StormClient): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await session.join();
      return;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'unknown';
      firstJoinErrors[code] = (firstJoinErrors[code] ?? 0) + 1;
      if (session.record.state === 'closed') return;
      if (attempt >= FIRST_JOIN_ATTEMPTS) {
        failedFirstJoins += 1;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function start(message: StartMessage): void {
  const gapMs = 1000 / message.rampPerSecond;
  message.clients.forEach((client, position) => {
    const session = new StormClient({
      index: client.index,
      brokerUrls: message.brokerUrls.map(
        (_, at) => message.brokerUrls[(client.index + at) % message.brokerUrls.length]!,
      ),
      room: client.room,
      clock,
      onBrokerRequest: (at) => {
        if (requestTimes.length < MAX_REQUEST_TIMES) requestTimes.push(at);
      },
    });
    sessions.push(session);
    setTimeout(() => void firstJoin(session), position * gapMs);
  });
}

function status(): FromClients {
  const servers: Record<string, number> = {};
  let joined = 0;
  let closed = 0;
  for (const session of sessions) {
    const { state, serverId } = session.record;
    if (state === 'joined' && serverId !== null) {
      joined += 1;
      servers[serverId] = (servers[serverId] ?? 0) + 1;
    } else if (state === 'closed') closed += 1;
  }
  return {
    type: 'status',
    total: sessions.length,
    joined,
    closed,
    servers,
    failedFirstJoins,
    firstJoinErrors,
  };
}

if (process.send === undefined) {
  console.error('bench storm worker: must be started by the bench with an IPC channel');
  process.exit(2);
}
process.on('disconnect', () => process.exit(1));
process.on('message', (message: ToClients) => {
  switch (message.type) {
    case 'start':
      start(message);
      return;
    case 'status':
      send(status());
      return;
    case 'report':
      send({ type: 'report', records: sessions.map((session) => session.record), requestTimes });
      return;
    case 'stop':
      for (const session of sessions) session.close();
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
send({ type: 'ready' });
