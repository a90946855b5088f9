// A load-generator child process spoken to over IPC: typed messages out, and `next(type)`
// waits for the next message of that type (one that arrived early is kept for it), failing
// when the child exits or the deadline passes. The storm's and the steady state's clients.
import type { Managed, ProcessGroup } from './processes.ts';

export interface IpcWorker<Out, In extends { type: string }> {
  managed: Managed;
  send(message: Out): void;
  next<T extends In['type']>(type: T, timeoutMs: number): Promise<Extract<In, { type: T }>>;
}

/** Starts `script` (TypeScript, through tsx) in `group` as a client process with IPC. */
export function startIpcWorker<Out, In extends { type: string }>(
  group: ProcessGroup,
  name: string,
  script: string,
): IpcWorker<Out, In> {
  const managed = group.start(name, { role: 'client', ipc: true, nodeArgs: ['--import', 'tsx', script] });
  const waiting: Array<{ type: string; resolve: (message: In) => void }> = [];
  const early: In[] = [];
  managed.child.on('message', (message: In) => {
    const at = waiting.findIndex((waiter) => waiter.type === message.type);
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve(message);
    else early.push(message);
  });
  return {
    managed,
    send: (message) => {
      if (managed.child.connected) managed.child.send(message as object);
    },
    next: (type, timeoutMs) =>
      new Promise((resolve, reject) => {
        const at = early.findIndex((message) => message.type === type);
        if (at >= 0) {
          resolve(early.splice(at, 1)[0] as never);
          return;
        }
        const timer = setTimeout(
          () => reject(new Error(`${name}: no ${type} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        void managed.exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited:\n${managed.tail.slice(-10).join('\n')}`));
        });
        waiting.push({
          type,
          resolve: (message) => {
            clearTimeout(timer);
            resolve(message as never);
          },
        });
      }),
  };
}
