// The limit servers' reply: a fixed JSON object the size of the broker's real reply, with the
// request id copied in so the load generator can match replies exactly as it does the broker's.

/** Returns a function building the reply for one request id; about `bytes` long for 8-char ids. */
export function fixedReply(bytes: number): (id: string) => string {
  const prefix = '{"type":"session.assigned","v":1,"id":"';
  const middle = '","pad":"';
  const suffix = '"}';
  const pad = 'x'.repeat(Math.max(0, bytes - prefix.length - 8 - middle.length - suffix.length));
  const tail = `${middle}${pad}${suffix}`;
  return (id) => prefix + id + tail;
}

/**
 * Calibration only (`usher bench` sets `--work-us` to the limit's own CPU per request): a
 * function that burns that many µs of CPU, so the run can show what a server doing exactly
 * that much more work per request measures under the same method. Undefined for 0.
 */
export function busyWork(argv: readonly string[]): (() => void) | undefined {
  const us = Number(flag(argv, 'work-us', '0'));
  if (!(us > 0)) return undefined;
  return () => {
    const until = performance.now() + us / 1000;
    while (performance.now() < until) {
      // spin: the point is to use the CPU
    }
  };
}

/** `--name value` from argv, or the fallback. */
export function flag(argv: readonly string[], name: string, fallback: string): string {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1]! : fallback;
}
