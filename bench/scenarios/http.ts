// Scenario http: POST /v1/sessions against a bare Fastify route answering the same size of
// JSON, both under autocannon on kept connections.
import { type LoadContext, requestJob, singleRole, stackRoles } from './context.ts';
import type { Pair } from './pairs.ts';

export function httpPairs(ctx: LoadContext): Pair[] {
  const { config, wants } = ctx;
  const { stack, fastify } = ctx.servers;
  if (!wants('http') || stack === undefined || fastify === undefined) return [];
  return [
    {
      name: 'HTTP',
      usher: {
        id: 'http.usher',
        label: 'http: POST /v1/sessions (autocannon, kept connections)',
        system: 'usher',
        roles: stackRoles(stack),
        job: (round) => requestJob(config, 'http', stack.brokerUrl, `h${round}`, [stack.broker.pid]),
      },
      reference: {
        id: 'http.fastify',
        label: 'http limit: bare Fastify route, same reply size',
        system: 'fastify',
        roles: singleRole(fastify, 'fastify'),
        job: (round) =>
          requestJob(config, 'http', `http://127.0.0.1:${fastify.port}`, `hf${round}`, [fastify.process.pid]),
      },
    },
  ];
}
