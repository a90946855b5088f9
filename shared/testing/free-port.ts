// Free loopback ports for the processes a test or the bench starts on ports it chooses itself
// (a compose file's services, a storm's fleet): one helper for both, so neither hands out a
// port twice.
import { createServer } from 'node:net';

/** Ports this process has handed out: the kernel may offer a just-closed one again. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out
 * before — a test that asks for several before starting anything (a compose file's services)
 * once got the same port twice, and two of its processes raced for it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no port this process has not handed out already');
}
