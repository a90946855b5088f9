// Steady-state client process: opens its share of the clients at a paced rate (media: a broker
// session request, then join on the media server), then pings every client once per interval,
// spread evenly over the interval, and counts pongs, their round trip and any over the timeout.
import { cpuUsage } from 'node:process';
import { Histogram } from '../lib/histogram.ts';
import { leanPost } from '../lib/lean-http.ts';
import { LeanWs } from '../lib/lean-ws.ts';
import type { FromSteadyClients, SteadyStart, ToSteadyClients } from './messages.ts';

interface Client {
  ws: LeanWs;
  open: boolean;
  seq: number;
  /** performance.now() of the unanswered ping, or -1. */
  sentAt: number;
}

const TICK_MS = 10;
const clients: Client[] = [];
const errors: Record<string, number> = {};
let window = newWindow();
let windowCpu = cpuUsage();
let windowStart = performance.now();
let pingTimer: NodeJS.Timeout | undefined;

function newWindow() {
  return { pings: 0, pongs: 0, late: 0, missing: 0, closed: 0, rtt: new Histogram() };
}

function send(message: FromSteadyClients): void {
  process.send?.(message);
}

function fail(code: string): void {
  errors[code] = (errors[code] ?? 0) + 1;
}

function open(
  start: SteadyStart,
  index: number,
  ws: (url: string, onOpen: (ws: LeanWs) => void) => void,
): Promise<boolean> {
  const room = `${start.roomPrefix}-${Math.floor(index / start.roomSize)}`;
  if (start.target === 'echo') {
    return new Promise((resolve) => ws(start.url, () => resolve(true)));
  }
  const { hostname, port } = new URL(start.url);
  const body = `{"type":"session.request","v":1,"id":"${index.toString(36)}","room":"${room}","name":"steady"}`;
  return leanPost(hostname, Number(port), '/v1/sessions', body).then(
    (response) => {
      if (response.status !== 200) {
        fail(/"code":"([A-Z_]+)"/.exec(response.body)?.[1] ?? `HTTP_${response.status}`);
        return false;
      }
      const assigned = JSON.parse(response.body) as { ticket: string; room: string; server: { url: string } };
      const join = JSON.stringify({ type: 'join', v: 1, ticket: assigned.ticket, room: assigned.room });
      return new Promise<boolean>((resolve) =>
        ws(assigned.server.url, (socket) => {
          socket.send(join);
          resolve(true);
        }),
      );
    },
    (error: Error) => {
      fail(`HTTP_${error.message.replaceAll(' ', '_').toUpperCase()}`);
      return false;
    },
  );
}

/** A browser tries again when its first join fails: so does a steady client, a bounded number of times. */
const JOIN_ATTEMPTS = 4;
const RETRY_AFTER_MS = 1000;
let retries = 0;

async function withRetries(attempt: () => Promise<boolean>): Promise<boolean> {
  for (let n = 1; ; n += 1) {
    if (await attempt()) return true;
    if (n >= JOIN_ATTEMPTS) return false;
    retries += 1;
    await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
  }
}

async function start(message: SteadyStart): Promise<void> {
  const gapMs = 1000 / message.rampPerSecond;
  const began = performance.now();
  const joined: Array<Promise<boolean>> = [];
  for (let index = 0; index < message.clients; index += 1) {
    const due = began + index * gapMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    joined.push(
      withRetries(
        () =>
          new Promise<boolean>((resolve) => {
            let settled = false;
            const settle = (ok: boolean): void => {
              if (settled) return;
              settled = true;
              resolve(ok);
            };
            const connect = (url: string, onOpen: (ws: LeanWs) => void): void => {
              const client: Client = {
                ws: new LeanWs(url, {
                  onOpen: (ws) => {
                    if (message.target === 'echo') {
                      client.open = true;
                      settle(true);
                    }
                    onOpen(ws);
                  },
                  onText: (_ws, text) => {
                    if (!client.open) {
                      // media: the first reply is `joined` or an error
                      if (text.includes('"type":"joined"')) {
                        client.open = true;
                        settle(true);
                      } else {
                        fail(/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'BAD_JOIN_REPLY');
                        settle(false);
                      }
                      return;
                    }
                    if (client.sentAt < 0) return;
                    const rttMs = performance.now() - client.sentAt;
                    client.sentAt = -1;
                    window.pongs += 1;
                    window.rtt.record(rttMs * 1000);
                    if (rttMs > message.timeoutMs) window.late += 1;
                  },
                  onClose: (_ws, code) => {
                    if (client.open) window.closed += 1;
                    else fail(`CLOSED_${code}`);
                    client.open = false;
                    settle(false);
                  },
                }),
                open: false,
                seq: 0,
                sentAt: -1,
              };
              clients.push(client);
            };
            void open(message, index, connect).then((ok) => {
              if (!ok) settle(false);
            });
          }),
      ),
    );
  }
  const results = await Promise.all(joined);
  startPinging(message);
  send({
    type: 'connected',
    open: results.filter(Boolean).length,
    failed: results.filter((ok) => !ok).length,
    retries,
    errors,
  });
}

/** Every client pings once per interval, at its own phase: the load is even, as from real browsers. */
function startPinging(message: SteadyStart): void {
  const t0 = performance.now();
  let cursor = 0;
  pingTimer = setInterval(() => {
    const now = performance.now();
    const target = Math.floor(((now - t0) / message.intervalMs) * clients.length);
    for (; cursor < target; cursor += 1) {
      const client = clients[cursor % clients.length]!;
      if (!client.open) continue;
      if (client.sentAt >= 0) {
        // unanswered since the last round: over the timeout by the time the next ping is due
        if (now - client.sentAt > message.timeoutMs) window.missing += 1;
        else continue;
      }
      client.seq += 1;
      client.sentAt = now;
      client.ws.send(`{"type":"ping","seq":${client.seq}}`);
      window.pings += 1;
    }
  }, TICK_MS);
}

function windowReport(): FromSteadyClients {
  const cpu = cpuUsage(windowCpu);
  const elapsedMs = performance.now() - windowStart;
  return {
    type: 'window',
    pings: window.pings,
    pongs: window.pongs,
    late: window.late,
    missing: window.missing,
    closed: window.closed,
    rttUs: window.rtt.toJSON(),
    clientBusy: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}

if (process.send === undefined) {
  console.error('bench steady worker: must be started by the bench with an IPC channel');
  process.exit(2);
}
process.on('disconnect', () => process.exit(1));
process.on('message', (message: ToSteadyClients) => {
  switch (message.type) {
    case 'start':
      void start(message);
      return;
    case 'window-start':
      window = newWindow();
      windowCpu = cpuUsage();
      windowStart = performance.now();
      return;
    case 'window-end':
      send(windowReport());
      return;
    case 'stop':
      clearInterval(pingTimer);
      for (const client of clients) client.ws.destroy();
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
send({ type: 'ready' });
