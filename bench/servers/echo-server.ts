// The runtime's limit for the broker's WebSocket path: a bare `ws` server that does the
// minimum a session request needs (parse the JSON, answer one fixed JSON), nothing else.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { busyWork, fixedReply, flag } from './fixed-reply.ts';

const argv = process.argv.slice(2);
const reply = fixedReply(Number(flag(argv, 'reply-bytes', '900')));
const work = busyWork(argv);
const http = createServer((_request, response) => {
  response.writeHead(404).end();
});
// Same frame limit as the broker's session channel; no compression, as the broker.
const wss = new WebSocketServer({ server: http, maxPayload: 4096, perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    let id = 'x';
    try {
      const message = JSON.parse(String(data)) as { id?: unknown };
      if (typeof message.id === 'string') id = message.id;
    } catch {
      // still answer: the limit does not validate
    }
    work?.();
    socket.send(reply(id));
  });
  socket.on('error', () => socket.terminate());
});
http.listen(Number(flag(argv, 'port', '0')), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  console.log(JSON.stringify({ msg: 'listening', role: 'echo', port }));
});
// Exit on SIGINT/SIGTERM through process.exit, so --cpu-prof writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
