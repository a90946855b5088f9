// Test fixture: a real redis-server (Debian's package; `npm test` installs it) on a free
// loopback port in a temp dir, with no persistence, stopped and removed after the test.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../shared/testing/free-port.ts';
import { ephemeralRedisArgs, REDIS_SERVER } from '../../cli/ephemeral-redis.ts';

const REDIS_SERVER_PATH = process.env.USHER_TEST_REDIS_SERVER ?? REDIS_SERVER;
const READY_TIMEOUT_MS = 10_000;

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stop the server (SIGKILL: an outage, not a shutdown). */
  kill(): Promise<void>;
  /** Start it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen Redis whose socket stays open. */
  freeze(): void;
  thaw(): void;
  /** Kill it and remove its directory (idempotent). */
  stop(): Promise<void>;
}

/** A test or suite context (or node:test's `after` hook itself) to hang the clean-up on. */
export interface Cleanup {
  after(fn: () => Promise<void>): void;
}

/**
 * Starts redis-server; with `t`, its clean-up is registered there before waiting for it
 * (without, call `stop()`, e.g. from a suite's `after` hook). Extra args go to redis-server.
 */
export async function startRedis(t?: Cleanup, extraArgs: readonly string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'usher-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let frozen = false;
  let output = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER_PATH, [...ephemeralRedisArgs(port, dir), ...extraArgs], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    });
    const failed = new Promise<never>((_resolve, reject) => {
      proc.once('error', (error) =>
        reject(new Error(`cannot run ${REDIS_SERVER_PATH} (apt-get install redis-server): ${error.message}`)),
      );
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
    });
    failed.catch(() => {}); // only observed while waiting for readiness
    await Promise.race([waitForPong(port), failed]);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  const cleanUp = async (): Promise<void> => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  t?.after(cleanUp);
  try {
    await launch();
  } catch (error) {
    await cleanUp();
    throw error;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: stop,
    restart: async () => {
      await stop();
      await launch();
    },
    freeze: () => {
      if (child !== undefined && !frozen) {
        child.kill('SIGSTOP');
        frozen = true;
      }
    },
    thaw: () => {
      if (child !== undefined && frozen) {
        child.kill('SIGCONT');
        frozen = false;
      }
    },
    stop: cleanUp,
  };
}

/** Polls PING over a raw socket until +PONG, or fails after the deadline. */
async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      // -NOAUTH: up, but wants a password (a test of the store's auth failures).
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}
