// Fake media servers for the broker's control channel: `count` control sockets from one
// process, each registering with a real control token and then sending an empty load report
// at the heartbeat interval the broker asks for, spread over the interval. Counts the reports.
import { parseSecret } from '../../server/common/keys.ts';
import { signControlToken } from '../../server/common/tickets.ts';
import { serveOneJob } from '../lib/job-worker.ts';
import { LeanWs } from '../lib/lean-ws.ts';
import { processCpuUs } from '../lib/proc-cpu.ts';

export interface FakeFleetJob {
  /** ws://host:port/v1/control */
  url: string;
  secret: string;
  count: number;
  warmupMs: number;
  durationMs: number;
  brokerPid: number;
}

export interface FakeFleetResult {
  registered: number;
  reports: number;
  windowMs: number;
  brokerCpuUs: number;
  /** Sockets the broker closed during the run. */
  closed: number;
}

const LOAD = '{"type":"load","v":1,"peers":0,"rooms":0,"draining":false,"opened":[],"closed":[]}';

async function run(job: FakeFleetJob): Promise<FakeFleetResult> {
  const keys = parseSecret(job.secret);
  let registered = 0;
  let closed = 0;
  let intervalMs = 1000;
  const sockets: LeanWs[] = [];
  await Promise.all(
    Array.from({ length: job.count }, async (_, index) => {
      const id = `fake${index + 1}`;
      const token = await signControlToken(keys, id);
      const register = JSON.stringify({
        type: 'register',
        v: 1,
        id,
        url: `ws://127.0.0.1:${20_000 + index}/`,
        token,
        capacity: { maxRooms: 1000, maxPeersPerRoom: 8, maxPeers: 8000 },
        draining: false,
        rooms: [],
      });
      await new Promise<void>((resolve) => {
        let done = false;
        const settle = (): void => {
          if (!done) {
            done = true;
            resolve();
          }
        };
        const ws = new LeanWs(job.url, {
          onOpen: (socket) => socket.send(register),
          onText: (_socket, text) => {
            if (text.includes('"type":"registered"')) {
              registered += 1;
              const match = /"intervalMs":(\d+)/.exec(text);
              if (match !== null) intervalMs = Number(match[1]);
              settle();
            }
          },
          onClose: () => {
            closed += 1;
            settle();
          },
        });
        sockets.push(ws);
      });
    }),
  );
  let reports = 0;
  let counting = false;
  const t0 = performance.now();
  let cursor = 0;
  const timer = setInterval(() => {
    const target = Math.floor(((performance.now() - t0) / intervalMs) * sockets.length);
    for (; cursor < target; cursor += 1) {
      const ws = sockets[cursor % sockets.length]!;
      if (!ws.isOpen) continue;
      ws.send(LOAD);
      if (counting) reports += 1;
    }
  }, 5);
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(job.warmupMs);
  counting = true;
  const cpuStart = processCpuUs(job.brokerPid) ?? 0;
  const started = performance.now();
  await sleep(job.durationMs);
  counting = false;
  const brokerCpuUs = (processCpuUs(job.brokerPid) ?? 0) - cpuStart;
  const windowMs = performance.now() - started;
  clearInterval(timer);
  for (const ws of sockets) ws.destroy();
  return { registered, reports, windowMs, brokerCpuUs, closed };
}

serveOneJob<FakeFleetJob, FakeFleetResult>('bench fake fleet', run);
