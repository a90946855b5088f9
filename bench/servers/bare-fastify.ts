// The runtime's limit for the broker's HTTP path: a bare Fastify route at the same URL that
// parses the JSON body and returns a fixed JSON of the same size as the broker's reply.
import Fastify from 'fastify';
import { busyWork, fixedReply, flag } from './fixed-reply.ts';

const argv = process.argv.slice(2);
const reply = fixedReply(Number(flag(argv, 'reply-bytes', '900')));
const work = busyWork(argv);
const app = Fastify({ logger: false, bodyLimit: 4096 });
app.post('/v1/sessions', async (request, response) => {
  const body = request.body as { id?: unknown } | null;
  const id = typeof body?.id === 'string' ? body.id : 'x';
  work?.();
  return response.type('application/json').send(reply(id));
});
const address = await app.listen({ port: Number(flag(argv, 'port', '0')), host: '127.0.0.1' });
console.log(JSON.stringify({ msg: 'listening', role: 'fastify', port: Number(new URL(address).port) }));
// Exit on SIGINT/SIGTERM through process.exit, so --cpu-prof writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
