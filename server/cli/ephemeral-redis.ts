// The one way Usher runs a throwaway redis-server — `usher stack --redis`, the bench's fleet and
// the tests: loopback only, nothing written to disk (a restart is an empty Redis, as after a crash).

/** Debian's redis-server (`npm test` and `usher stack --redis` install or expect it). */
export const REDIS_SERVER = '/usr/bin/redis-server';

/** redis-server arguments for a throwaway instance on `port`, with `dir` as its working folder. */
export function ephemeralRedisArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
}
