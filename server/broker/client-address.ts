// The requester's address as the broker saw it (reported back like STUN's mapped
// address). Behind a proxy the socket shows the proxy, so X-Forwarded-For is used —
// but only when the operator said the proxy is trusted, since any client can send it.
import type { FastifyRequest } from 'fastify';
import type { ClientAddress } from './sessions.ts';

export function clientAddress(request: FastifyRequest, trustProxy: boolean): ClientAddress {
  if (trustProxy) return { address: unmap(request.ip) };
  const socket = request.socket;
  const address = unmap(socket.remoteAddress ?? request.ip);
  return socket.remotePort === undefined ? { address } : { address, port: socket.remotePort };
}

/**
 * `::ffff:203.0.113.9` (IPv4 on a dual-stack socket) → `203.0.113.9`. A socket the client has
 * already torn down has no address at all (Node reports undefined despite the types).
 */
function unmap(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
