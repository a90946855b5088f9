// The local stack's process supervisor: each child is started, its output passed on line by
// line, and started again after a short delay when it dies (longer if it keeps dying at once),
// so killing one server is a failure a person can watch recover from, not the end of the stack.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** A line that says the child is ready; undefined ⇒ ready once spawned. */
  readonly ready?: (line: string) => boolean;
}

export interface SupervisorOptions {
  /** Every output line of every child. */
  onLine(name: string, line: string): void;
  /** The supervisor's own messages (exits, restarts). */
  say(message: string): void;
  /** First restart delay; doubled for each quick death in a row, up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** A child that ran this long before dying counts as stable: its next restart waits restartDelayMs again. */
  stableMs?: number;
  /** After stop() asked nicely, children still alive are killed. */
  stopTimeoutMs?: number;
}

export const DEFAULT_RESTART_DELAY_MS = 1000;
const DEFAULT_MAX_RESTART_DELAY_MS = 30_000;
const DEFAULT_STABLE_MS = 10_000;
const DEFAULT_STOP_TIMEOUT_MS = 5000;

/** starting: spawned, not ready yet; running; waiting: dead, restart timer set; stopped: for good. */
type State = 'starting' | 'running' | 'waiting' | 'stopped';

/** One supervised child: its current process, restarts and backoff. */
export class SupervisedChild {
  private state: State = 'starting';
  private process: ChildProcess | undefined;
  private startedAt = 0;
  private quickDeaths = 0;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private firstReady: { resolve: () => void; reject: (error: Error) => void } | undefined;
  restarts = 0;

  constructor(
    readonly spec: ChildSpec,
    private readonly options: Required<Omit<SupervisorOptions, 'onLine' | 'say'>> &
      Pick<SupervisorOptions, 'onLine' | 'say'>,
  ) {}

  get pid(): number | undefined {
    return this.state === 'running' || this.state === 'starting' ? this.process?.pid : undefined;
  }

  /** Resolves when the first start is ready; rejects if that first start dies before. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstReady = { resolve, reject };
      this.spawn();
    });
  }

  private spawn(): void {
    const { spec } = this;
    this.state = 'starting';
    this.startedAt = Date.now();
    const child = spawn(spec.command, [...spec.args], { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const onLine = (line: string): void => {
      this.options.onLine(spec.name, line);
      if (this.state === 'starting' && this.process === child && spec.ready?.(line) === true) this.ready();
    };
    if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', (error) =>
      this.options.say(`${spec.name}: cannot start ${spec.command}: ${error.message}`),
    );
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    if (spec.ready === undefined) child.once('spawn', () => this.ready());
  }

  private ready(): void {
    this.state = 'running';
    this.firstReady?.resolve();
    this.firstReady = undefined;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.process !== child || this.state === 'stopped') return;
    const how = signal ?? `code ${code}`;
    if (this.firstReady !== undefined) {
      this.state = 'stopped';
      this.firstReady.reject(new Error(`${this.spec.name} exited before it was ready (${how})`));
      this.firstReady = undefined;
      return;
    }
    const ranMs = Date.now() - this.startedAt;
    this.quickDeaths = ranMs >= this.options.stableMs ? 0 : this.quickDeaths + 1;
    const delay = Math.min(
      this.options.maxRestartDelayMs,
      this.options.restartDelayMs * 2 ** Math.max(0, this.quickDeaths - 1),
    );
    this.state = 'waiting';
    this.options.say(`${this.spec.name} (pid ${child.pid}) exited (${how}); restarting in ${delay / 1000} s`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.restarts += 1;
      this.spawn();
      this.options.say(`${this.spec.name} restarted, pid ${this.process?.pid}`);
    }, delay);
  }

  /** Signal the current process (a frozen one is woken first so it can act on it). */
  signal(signal: NodeJS.Signals): void {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill(signal);
  }

  /** No more restarts; SIGINT, then SIGKILL after the stop timeout; resolves when it has exited. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.firstReady?.reject(new Error(`${this.spec.name} stopped before it was ready`));
    this.firstReady = undefined;
    this.signal('SIGINT');
    const force = setTimeout(() => this.signal('SIGKILL'), this.options.stopTimeoutMs);
    await this.exited;
    clearTimeout(force);
  }
}

export class Supervisor {
  readonly children: SupervisedChild[] = [];
  private readonly options: ConstructorParameters<typeof SupervisedChild>[1];

  constructor(options: SupervisorOptions) {
    this.options = {
      restartDelayMs: DEFAULT_RESTART_DELAY_MS,
      maxRestartDelayMs: DEFAULT_MAX_RESTART_DELAY_MS,
      stableMs: DEFAULT_STABLE_MS,
      stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS,
      ...options,
    };
  }

  /** Starts a child; resolves when it is ready the first time. */
  start(spec: ChildSpec): Promise<SupervisedChild> {
    const child = new SupervisedChild(spec, this.options);
    this.children.push(child);
    return child.start().then(() => child);
  }

  /** Stops every child, in reverse start order (the front before the brokers before Redis). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].reverse().map((child) => child.stop()));
  }
}
