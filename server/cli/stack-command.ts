// `usher stack`: the whole local system on one machine — one broker and N media
// servers, each its own process, so killing one is a real failure a person can watch.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { formatLogLine } from './log-format.ts';
import { formatHelp, type OptionTable, parseOptions } from './options.ts';
import { USHER_BIN } from './paths.ts';

export const stackOptions = {
  host: { kind: 'string', env: 'USHER_HOST', default: '127.0.0.1', help: 'address the broker listens on' },
  port: { kind: 'int', env: 'USHER_PORT', default: 8080, min: 1, max: 65535, help: 'broker port' },
  'media-count': { kind: 'int', default: 3, min: 1, max: 20, help: 'how many media servers to start' },
  'media-base-port': { kind: 'int', default: 8101, min: 1, max: 65500, help: 'first media server port' },
  json: { kind: 'bool', default: false, help: 'print raw JSON log lines instead of the readable form' },
} as const satisfies OptionTable;

export const stackHelp = formatHelp(
  'stack',
  'the local stack: a broker on :8080 serving the app and 3 media servers on :8101-8103',
  stackOptions,
  `
Environment: USHER_SECRET and USHER_API_KEYS (optional here: random dev values are made for the
run when unset). The broker runs in token mode with its dev token endpoint (POST /dev/token),
which the app uses to get a join token: a real deployment mints tokens in its own backend
(docs/INTEGRATION.md).
Other broker/media settings (ping, heartbeat, TURN…) come from the same env variables as
\`usher broker\` and \`usher media\`.
`,
);

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<void>;
}

export async function runStack(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseOptions('stack', stackOptions, argv, env);
  const childEnv = { ...env };
  if ((env.USHER_SECRET ?? '') === '') {
    childEnv.USHER_SECRET = randomBytes(32).toString('base64url');
    console.log('usher stack: USHER_SECRET is not set; using a random dev secret for this run.');
  }
  if ((env.USHER_API_KEYS ?? '') === '') {
    childEnv.USHER_API_KEYS = `dev:${randomBytes(32).toString('base64url')}`;
    console.log('usher stack: USHER_API_KEYS is not set; using a random dev API key for this run.');
  }
  const children: Child[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    stopping = true;
    for (const child of children) {
      child.process.kill('SIGCONT'); // a frozen (SIGSTOP) server cannot act on SIGINT
      child.process.kill('SIGINT');
    }
    const deadline = setTimeout(() => {
      for (const child of children) child.process.kill('SIGKILL');
    }, 5000);
    await Promise.all(children.map((child) => child.exited));
    clearTimeout(deadline);
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const start = (name: string, args: string[], ready: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [USHER_BIN, ...args], {
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      children.push({ name, process: child, exited });
      let isReady = false;
      const onLine = (line: string): void => {
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
        console.log(options.json ? line : formatLogLine(name, line, parsed));
        if (!isReady && parsed?.msg === ready) {
          isReady = true;
          resolve(parsed);
        }
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.once('exit', (code, signal) => {
        if (!isReady)
          reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`));
        if (stopping) return;
        console.log(`usher stack: ${name} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
        if (name === 'broker') void stopAll(1);
        else console.log('usher stack: its rooms move to the other media servers; the calls go on.');
      });
    });

  try {
    const broker = await start(
      'broker',
      // Token mode as in production, plus the dev endpoint that signs tokens for the app.
      [
        'broker',
        '--host',
        options.host,
        '--port',
        String(options.port),
        '--auth',
        'token',
        '--dev-token-endpoint',
      ],
      'broker listening',
    );
    const brokerUrl = `http://127.0.0.1:${new URL(String(broker.url)).port}`;
    const media = await Promise.all(
      Array.from({ length: options['media-count'] }, (_, index) => {
        const id = `media-${index + 1}`;
        const port = String(options['media-base-port'] + index);
        return start(
          id,
          ['media', '--id', id, '--port', port, '--broker', brokerUrl],
          'media server listening',
        );
      }),
    );
    await waitForServers(brokerUrl, options['media-count']);
    const open = `http://localhost:${options.port}/?room=lobby`;
    const lines = [
      '',
      `Usher is running. Open ${open} in two browser tabs (or two machines' browsers).`,
      `  broker    pid ${children[0]?.process.pid}  ${brokerUrl}`,
      ...media.map(
        (info, index) =>
          `  ${String(info.id).padEnd(8)}  pid ${children[index + 1]?.process.pid}  ${info.url}`,
      ),
      'Try a failover: `kill -9 <pid>` (crash) or `kill -STOP <pid>` (freeze) the server shown in the',
      "app's status panel, and watch the call move to another server. Ctrl-C stops everything.",
      '',
    ];
    console.log(lines.join('\n'));
  } catch (error) {
    console.error(`usher stack: ${(error as Error).message}`);
    await stopAll(1);
  }
}

async function waitForServers(brokerUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${brokerUrl}/healthz`);
      const body = (await response.json()) as { servers?: number };
      if ((body.servers ?? 0) >= count) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`fewer than ${count} media servers registered within 15 s`);
}
