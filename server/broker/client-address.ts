// The requester's address as the broker saw it (reported back like STUN's mapped
// address). Behind a proxy the socket shows the proxy, so X-Forwarded-For is used —
// but only as many hops of it as the operator said are trusted proxies, since any
// client can send the header. Works on the raw request, so the HTTP route and the
// WebSocket upgrades (which do not go through Fastify) read the address the same way.
import type { IncomingMessage } from 'node:http';
import type { ClientAddress } from './sessions.ts';

/**
 * `proxyHops` = how many proxies in front of the broker append to X-Forwarded-For. The
 * socket's peer is hop 0; each trusted proxy vouches for the entry it appended, so the
 * client is the entry `proxyHops` places from the socket inward (the left-most one
 * when there are fewer): what a client wrote further left is never believed.
 */
export function clientAddress(request: IncomingMessage, proxyHops: number): ClientAddress {
  const socket = request.socket;
  const peer = unmap(socket.remoteAddress);
  if (proxyHops > 0) {
    const header = request.headers['x-forwarded-for'];
    if (typeof header === 'string' && header !== '') {
      const forwarded = header.split(',');
      const index = Math.max(0, forwarded.length - proxyHops);
      const entry = forwarded[index]?.trim();
      if (entry !== undefined && entry !== '') return { address: unmap(entry) };
    }
    return { address: peer };
  }
  return socket.remotePort === undefined ? { address: peer } : { address: peer, port: socket.remotePort };
}

/**
 * `::ffff:203.0.113.9` (IPv4 on a dual-stack socket) → `203.0.113.9`. A socket the client has
 * already torn down has no address at all (Node reports undefined despite the types).
 */
function unmap(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
