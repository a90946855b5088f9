// The storm's fleet: N brokers (bench/servers/usher-broker.ts) sharing room pins through one
// redis-server, M media servers registered with every broker, and — with more than one
// broker — the HAProxy front `usher stack --brokers N` runs (server/cli/haproxy-config.ts),
// whose one URL the clients get, as docs/DEPLOY.md deploys it. Every process is in the bench's
// ProcessGroup: pinned to the server core, and killed at the end.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralRedisArgs, REDIS_SERVER } from '../../server/cli/ephemeral-redis.ts';
import { haproxyConfig } from '../../server/cli/haproxy-config.ts';
import { freePort } from '../../shared/testing/free-port.ts';
import type { Managed, ProcessGroup } from '../lib/processes.ts';
import { RedisInfoClient } from '../lib/redis-info.ts';
import {
  isMsg,
  type MediaProcess,
  SERVERS_DIR,
  stackEnv,
  startMediaServer,
  USHER_BIN,
  waitForServers,
} from './servers.ts';

const REDIS_SERVER_PATH = process.env.USHER_BENCH_REDIS_SERVER ?? REDIS_SERVER;
const HAPROXY = process.env.USHER_BENCH_HAPROXY ?? '/usr/sbin/haproxy';

export interface FleetOptions {
  brokers: number;
  mediaCount: number;
  /** Share room pins through a redis-server the bench starts (needed for more than one broker). */
  redis: boolean;
  /** Put the HAProxy front before the brokers (more than one broker). */
  front: boolean;
  /** The front's connection cap: every client keeps one broker socket open through it. */
  frontMaxConnections: number;
  brokerArgs?: string[];
  nodeFlags?: string[];
  logLevel?: string;
  readyTimeoutMs?: number;
}

export interface FleetBroker {
  id: string;
  process: Managed;
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
}

export interface UsherFleet {
  brokers: FleetBroker[];
  media: MediaProcess[];
  redis: { process: Managed; port: number; url: string } | undefined;
  front: { process: Managed; port: number } | undefined;
  /** What a client is given: the front's ws URL, or every broker's. */
  sessionUrls: string[];
  /** Removes the run's temporary folder (HAProxy's config, Redis's dir). */
  cleanUp(): void;
}

/** HAProxy holds two descriptors per proxied connection and refuses to start when the open-file
 *  limit is below that: say so before starting it, with the way around. */
function checkFrontFits(maxConnections: number): void {
  let limit = Number.POSITIVE_INFINITY;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((text) => text.startsWith('Max open files'));
    const hard = Number(line?.split(/\s+/)[4]);
    if (Number.isFinite(hard)) limit = hard;
  } catch {
    return;
  }
  if (maxConnections * 2 + 100 > limit)
    throw new Error(
      `storm: the HAProxy front needs 2 open files per client (${maxConnections * 2 + 100}) and the limit here is ${limit}: fewer clients, a higher limit, or --storm-front sdk`,
    );
}

/** Polls `check` until true; fails at once when `process` exits, with its last lines. */
async function poll(
  what: string,
  process: Managed,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!process.running) throw new Error(`${process.name} exited: ${process.tail.slice(-10).join('\n')}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

export async function startUsherFleet(group: ProcessGroup, options: FleetOptions): Promise<UsherFleet> {
  if (options.brokers > 1 && !options.redis)
    throw new Error('storm: more than one broker needs Redis (they share room pins through it)');
  const { env } = stackEnv(options.logLevel);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const nodeFlags = options.nodeFlags ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-fleet-'));
  const cleanUp = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    let redis: UsherFleet['redis'];
    if (options.redis) {
      const port = await freePort();
      const managed = group.start('redis', {
        role: 'server',
        command: REDIS_SERVER_PATH,
        // As `usher stack --redis`: no persistence, loopback only.
        nodeArgs: ephemeralRedisArgs(port, dir),
      });
      await poll(
        `redis-server on ${port} did not answer PING`,
        managed,
        async () => {
          const client = await RedisInfoClient.connect(port, 500);
          try {
            return (await client.command('PING', 500)) === '+PONG';
          } finally {
            client.close();
          }
        },
        timeoutMs,
      );
      redis = { process: managed, port, url: `redis://127.0.0.1:${port}` };
    }
    const front = options.brokers > 1 && options.front;
    if (front) checkFrontFits(options.frontMaxConnections);
    const brokerArgs = [
      ...(options.brokerArgs ?? []),
      ...(redis === undefined ? [] : ['--redis-url', redis.url]),
      ...(front ? ['--trust-proxy'] : []),
    ];
    const brokers = await Promise.all(
      Array.from({ length: options.brokers }, async (_, index): Promise<FleetBroker> => {
        const id = `b${index + 1}`;
        const managed = group.start(options.brokers === 1 ? 'broker' : `broker ${id}`, {
          role: 'server',
          env,
          nodeArgs: [...nodeFlags, '--import', 'tsx', `${SERVERS_DIR}usher-broker.ts`, ...brokerArgs],
        });
        const listening = await managed.waitForRecord(isMsg('broker listening'), timeoutMs);
        const port = Number(new URL(String(listening.url)).port);
        return { id, process: managed, url: `http://127.0.0.1:${port}`, port };
      }),
    );
    const media = await Promise.all(
      Array.from({ length: options.mediaCount }, (_, index) =>
        startMediaServer(group, {
          id: `m${index + 1}`,
          brokerUrls: brokers.map((broker) => broker.url),
          env,
          args: [...nodeFlags, USHER_BIN, 'media'],
          mediaArgs: [],
          timeoutMs,
        }),
      ),
    );
    await Promise.all(brokers.map((broker) => waitForServers(broker.url, options.mediaCount, timeoutMs)));
    let frontProcess: UsherFleet['front'];
    if (front) {
      const port = await freePort();
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(
        file,
        haproxyConfig({
          bind: `127.0.0.1:${port}`,
          backends: brokers.map((broker) => ({ host: '127.0.0.1', port: broker.port })),
          checkPath: '/readyz',
          maxConnections: options.frontMaxConnections,
        }),
      );
      const managed = group.start('haproxy', {
        role: 'server',
        command: HAPROXY,
        nodeArgs: ['-db', '-f', file],
      });
      await poll(
        'the HAProxy front did not pass requests',
        managed,
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
            signal: AbortSignal.timeout(1000),
          });
          await response.arrayBuffer();
          return response.status === 200;
        },
        timeoutMs,
      );
      frontProcess = { process: managed, port };
    }
    const ports = frontProcess === undefined ? brokers.map((broker) => broker.port) : [frontProcess.port];
    return {
      brokers,
      media,
      redis,
      front: frontProcess,
      sessionUrls: ports.map((port) => `ws://127.0.0.1:${port}/v1/session`),
      cleanUp,
    };
  } catch (error) {
    cleanUp();
    throw error;
  }
}
