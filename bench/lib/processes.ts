// Every process the bench starts: spawned through taskset onto the server or the client
// cores, their output drained (a full pipe would stall a server), and all of them killed on
// exit, error or Ctrl-C — SIGCONT first, so a SIGSTOPped server dies too.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

export interface PinPlan {
  readonly enabled: boolean;
  /** taskset CPU list for servers (broker, media, limit, peer). */
  readonly serverCpus: string;
  /** taskset CPU list for load generators. */
  readonly clientCpus: string;
  /** One sentence for the report. */
  readonly note: string;
}

export function planPinning(wanted: boolean, serverCpus = '0', clientCpus = '1'): PinPlan {
  const cores = availableParallelism();
  if (!wanted) {
    return { enabled: false, serverCpus, clientCpus, note: `not pinned (--no-pin); ${cores} cores` };
  }
  if (process.platform !== 'linux' || cores < 2) {
    return {
      enabled: false,
      serverCpus,
      clientCpus,
      note: `not pinned: needs Linux and ≥ 2 cores (${cores})`,
    };
  }
  const probe = spawnSync('taskset', ['-c', serverCpus, 'true']);
  if (probe.status !== 0) {
    return { enabled: false, serverCpus, clientCpus, note: 'not pinned: taskset is missing or refused' };
  }
  return {
    enabled: true,
    serverCpus,
    clientCpus,
    note: `taskset: servers on CPU ${serverCpus}, load generators on CPU ${clientCpus} (of ${cores})`,
  };
}

export type Role = 'server' | 'client';
export type LogRecord = Record<string, unknown>;

export interface StartOptions {
  role: Role;
  /** Arguments after `node` (script and its flags, or --import tsx …), or after `command`. */
  nodeArgs: string[];
  /** Another program instead of node (redis-server, haproxy), pinned and killed the same way. */
  command?: string;
  env?: NodeJS.ProcessEnv;
  /** Open an IPC channel (load generators). */
  ipc?: boolean;
}

export class Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of output, for error messages. */
  readonly tail: string[] = [];
  #running = true;
  #stopped = false;
  readonly #records: LogRecord[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#running = false;
        this.#wake();
        resolve({ code, signal });
      });
    });
    child.on('error', (error) => this.#push(`[spawn error] ${error.message}`));
    const onLine = (line: string): void => {
      this.#push(line);
      if (line.startsWith('{')) {
        try {
          const parsed: unknown = JSON.parse(line);
          // Only kept while someone may wait for it: the tail is enough afterwards.
          if (parsed !== null && typeof parsed === 'object' && this.#records.length < 1000) {
            this.#records.push(parsed as LogRecord);
          }
        } catch {
          // not JSON
        }
      }
      this.#wake();
    };
    if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', onLine);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Whether the bench froze it with SIGSTOP (and has not resumed it). */
  get stopped(): boolean {
    return this.#stopped;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      return;
    }
    if (signal === 'SIGSTOP') this.#stopped = true;
    if (signal === 'SIGCONT') this.#stopped = false;
  }

  /** First JSON log line matching `predicate` (already seen or arriving within timeoutMs). */
  waitForRecord(predicate: (record: LogRecord) => boolean, timeoutMs: number): Promise<LogRecord> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.#records.find(predicate);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (!this.#running) {
          done();
          reject(new Error(`${this.name} exited before it was ready:\n${this.tail.slice(-15).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`${this.name}: not ready within ${timeoutMs} ms:\n${this.tail.slice(-15).join('\n')}`),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  #push(line: string): void {
    this.tail.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
    if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export class ProcessGroup {
  readonly pin: PinPlan;
  readonly #members = new Set<Managed>();

  constructor(pin: PinPlan) {
    this.pin = pin;
  }

  start(name: string, options: StartOptions): Managed {
    const nodeCommand = [options.command ?? process.execPath, ...options.nodeArgs];
    const cpus = options.role === 'server' ? this.pin.serverCpus : this.pin.clientCpus;
    // taskset execs the program in place, so the pid (and the IPC channel's fd) stay the child's.
    const [command, ...args] = this.pin.enabled ? ['taskset', '-c', cpus, ...nodeCommand] : nodeCommand;
    const child = spawn(command!, args, {
      env: options.env ?? process.env,
      stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    const managed = new Managed(name, child);
    this.#members.add(managed);
    void managed.exited.then(() => this.#members.delete(managed));
    return managed;
  }

  /** SIGCONT + SIGKILL one process and wait for it to be reaped. */
  async kill(managed: Managed): Promise<void> {
    managed.signal('SIGCONT');
    managed.signal('SIGKILL');
    await managed.exited;
  }

  async killAll(): Promise<void> {
    const members = [...this.#members];
    await Promise.all(members.map((member) => this.kill(member)));
  }

  /** For process 'exit' handlers, where nothing asynchronous runs any more. */
  killAllSync(): void {
    for (const member of this.#members) {
      member.signal('SIGCONT');
      member.signal('SIGKILL');
    }
  }

  get size(): number {
    return this.#members.size;
  }
}

/**
 * Kill the group when this process ends for any reason (exit, Ctrl-C, SIGTERM, SIGHUP).
 * Returns the function that removes these handlers.
 */
export function killOnExit(group: ProcessGroup): () => void {
  const onExit = (): void => group.killAllSync();
  const onSignal = (signal: NodeJS.Signals): void => {
    group.killAllSync();
    process.stderr.write(`\nusher bench: stopped by ${signal}; every process it started was killed.\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  return () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  };
}
