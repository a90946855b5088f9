// The peer: Colyseus 0.18 (matchmaker + rooms in one process, ws transport), with the
// smallest room that accepts joins, so the comparison is of the join machinery alone.
import { Room, Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { flag } from './fixed-reply.ts';

class BenchRoom extends Room {
  override maxClients = Number(flag(process.argv.slice(2), 'room-size', '4'));
  override onJoin(): void {}
}

const transport = new WebSocketTransport();
const server = new Server({ transport, greet: false, gracefullyShutdown: false });
server.define('bench', BenchRoom);
await server.listen(Number(flag(process.argv.slice(2), 'port', '0')), '127.0.0.1');
const address = (transport as unknown as { server: import('node:http').Server }).server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
console.log(JSON.stringify({ msg: 'listening', role: 'colyseus', port }));
// Exit on SIGINT/SIGTERM through process.exit, so --cpu-prof writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
