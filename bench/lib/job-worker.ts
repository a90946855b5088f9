// The child side of a one-job bench worker: wait for the job over IPC, run it, send the
// result (or the failure) back and exit. The parent side lives in bench/lib/processes.ts.

/** Serve exactly one job of `J` with `run`; `name` says who complains when started wrongly. */
export function serveOneJob<J, R>(name: string, run: (job: J) => Promise<R>): void {
  if (process.send === undefined) {
    console.error(`${name}: must be started by the bench with an IPC channel`);
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(1));
  process.on('message', (message: { type: string; job?: J }) => {
    if (message.type !== 'job' || message.job === undefined) return;
    run(message.job).then(
      (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
      (error: Error) =>
        process.send!({ type: 'failed', error: error.stack ?? error.message }, () => process.exit(1)),
    );
  });
  process.send({ type: 'ready' });
}
