// Starting the processes under test on the server cores: an Usher stack (media servers through
// the real `usher` CLI, the broker through bench/servers/usher-broker.ts so its per-address
// limits do not refuse the one-address load), the bare-ws and bare-Fastify limits, and Colyseus.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { LogRecord, Managed, ProcessGroup } from '../lib/processes.ts';

export const USHER_BIN = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));
export const SERVERS_DIR = fileURLToPath(new URL('../servers/', import.meta.url));

export interface StackOptions {
  mediaCount: number;
  /** Broker flags (bench/servers/usher-broker.ts): ping and heartbeat timing (defaults: the CLI's). */
  brokerArgs?: string[];
  mediaArgs?: string[];
  /** Extra node flags for every server process, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Pino level for the servers (info: as deployed, failovers are log lines). */
  logLevel?: string;
  readyTimeoutMs?: number;
}

export interface MediaProcess {
  id: string;
  url: string;
  process: Managed;
}

export interface UsherStack {
  broker: Managed;
  brokerUrl: string;
  brokerHost: string;
  brokerPort: number;
  media: MediaProcess[];
  secret: string;
  /** broker + every media server still running. */
  pids(): number[];
}

export const isMsg =
  (msg: string) =>
  (record: LogRecord): boolean =>
    record.msg === msg;

export async function startUsherStack(group: ProcessGroup, options: StackOptions): Promise<UsherStack> {
  const { secret, env } = stackEnv(options.logLevel);
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const nodeFlags = options.nodeFlags ?? [];
  const broker = group.start('broker', {
    role: 'server',
    env,
    nodeArgs: [
      ...nodeFlags,
      '--import',
      'tsx',
      `${SERVERS_DIR}usher-broker.ts`,
      ...(options.brokerArgs ?? []),
    ],
  });
  const listening = await broker.waitForRecord(isMsg('broker listening'), timeoutMs);
  const url = new URL(String(listening.url));
  const brokerPort = Number(url.port);
  const brokerUrl = `http://127.0.0.1:${brokerPort}`;
  const media = await Promise.all(
    Array.from({ length: options.mediaCount }, (_, index) =>
      startMediaServer(group, {
        id: `m${index + 1}`,
        brokerUrls: [brokerUrl],
        env,
        args: [...nodeFlags, USHER_BIN, 'media'],
        mediaArgs: options.mediaArgs ?? [],
        timeoutMs,
      }),
    ),
  );
  await waitForServers(brokerUrl, options.mediaCount, timeoutMs);
  return {
    broker,
    brokerUrl,
    brokerHost: '127.0.0.1',
    brokerPort,
    media,
    secret,
    pids: () => [broker, ...media.map((m) => m.process)].filter((p) => p.running).map((p) => p.pid),
  };
}

/** The servers' shared environment: one secret, a TURN secret, the log level. */
export function stackEnv(logLevel = 'info'): { secret: string; env: NodeJS.ProcessEnv } {
  const secret = randomBytes(32).toString('base64url');
  return {
    secret,
    env: {
      ...process.env,
      USHER_SECRET: secret,
      // TURN credentials are part of every reply, as in a deployment with a relay.
      USHER_TURN_SECRET: randomBytes(24).toString('base64url'),
      USHER_LOG_LEVEL: logLevel,
    },
  };
}

export interface MediaStart {
  id: string;
  /** Every broker it registers with (http://…). */
  brokerUrls: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Node flags, the usher bin and `media`. */
  args: string[];
  mediaArgs: readonly string[];
  timeoutMs: number;
}

/** `usher media` on a free port; resolves once it listens and one broker took its registration. */
export async function startMediaServer(group: ProcessGroup, options: MediaStart): Promise<MediaProcess> {
  const { id } = options;
  const managed = group.start(`media ${id}`, {
    role: 'server',
    env: options.env,
    nodeArgs: [
      ...options.args,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--id',
      id,
      '--broker',
      options.brokerUrls.join(','),
      ...options.mediaArgs,
    ],
  });
  const record = await managed.waitForRecord(isMsg('media server listening'), options.timeoutMs);
  await managed.waitForRecord(isMsg('registered with broker'), options.timeoutMs);
  return { id, url: String(record.url), process: managed };
}

export interface Health {
  status: string;
  servers: number;
  rooms: number;
}

export async function health(brokerUrl: string): Promise<Health> {
  const response = await fetch(`${brokerUrl}/healthz`);
  return (await response.json()) as Health;
}

/**
 * Poll /healthz until `count` media servers are registered and /readyz says the broker takes
 * load (a fresh broker places new rooms only after its warm-up).
 */
export async function waitForServers(
  brokerUrl: string,
  count: number,
  timeoutMs: number,
  exact = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    try {
      last = (await health(brokerUrl)).servers;
      // With no media server the broker is never ready; it only has to answer.
      const ready = count === 0 || (await fetch(`${brokerUrl}/readyz`)).status === 200;
      if ((exact ? last === count : last >= count) && ready) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`broker reports ${last} media servers, expected ${count}, after ${timeoutMs} ms`);
}

export interface SimpleServer {
  process: Managed;
  port: number;
}

/** One of bench/servers/*.ts: prints {"msg":"listening","port":n} when ready. */
export async function startBenchServer(
  group: ProcessGroup,
  script: 'echo-server' | 'bare-fastify' | 'colyseus-server',
  args: string[],
  nodeFlags: string[] = [],
): Promise<SimpleServer> {
  const managed = group.start(script, {
    role: 'server',
    nodeArgs: [...nodeFlags, '--import', 'tsx', `${SERVERS_DIR}${script}.ts`, ...args],
  });
  const record = await managed.waitForRecord(isMsg('listening'), 20_000);
  return { process: managed, port: Number(record.port) };
}

/** SIGINT first (lets --cpu-prof write its profile), SIGKILL after a grace period. */
export async function stopGracefully(group: ProcessGroup, managed: Managed, graceMs = 3000): Promise<void> {
  if (!managed.running) return;
  managed.signal('SIGCONT');
  managed.signal('SIGINT');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([managed.exited, timer])) === 'timeout') await group.kill(managed);
}
