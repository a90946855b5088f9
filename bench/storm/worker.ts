// Storm client process: hosts a share of the simulated browsers, joins them at a paced
// rate, answers status polls and hands over every client's record when asked.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../web/sdk/clock.ts';
import { JitterBackoffPolicy } from '../../web/sdk/reconnect-policy.ts';
import type { FromClients, StartMessage, ToClients } from './messages.ts';
import { SimSession } from './sim-session.ts';

// Sub-millisecond epoch time, comparable across the bench's processes.
const clock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const sessions: SimSession[] = [];
const requestTimes: number[] = [];
let failedFirstJoins = 0;
const MAX_REQUEST_TIMES = 1_000_000;

function send(message: FromClients): void {
  process.send?.(message);
}

async function firstJoin(session: SimSession): Promise<void> {
  const policy = new JitterBackoffPolicy();
  for (let attempt = 0; attempt < 10; attempt += 1) {
    try {
      await session.join();
      return;
    } catch {
      if (session.record.state === 'closed') return;
      await new Promise((resolve) => setTimeout(resolve, policy.windowMs(attempt)));
    }
  }
  failedFirstJoins += 1;
}

function start(message: StartMessage): void {
  const gapMs = 1000 / message.rampPerSecond;
  message.clients.forEach((client, position) => {
    const session = new SimSession({
      index: client.index,
      brokerUrl: message.brokerUrl,
      room: client.room,
      policy: new JitterBackoffPolicy(),
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
  return { type: 'status', total: sessions.length, joined, closed, servers, failedFirstJoins };
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
