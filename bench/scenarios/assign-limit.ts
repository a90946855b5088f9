// Scenarios assign and limit: the broker's session.request against a bare ws server that parses
// the JSON and sends a fixed reply of the same size, over a kept WebSocket and over a new
// WebSocket per request. Each pair measures the sides whose scenario was chosen.
import { type LoadContext, requestJob, singleRole, stackRoles } from './context.ts';
import type { Pair } from './pairs.ts';

export function assignLimitPairs(ctx: LoadContext): Pair[] {
  const { config, wants } = ctx;
  const { stack, echo } = ctx.servers;
  if (!wants('assign') && !wants('limit')) return [];
  const brokerWs = stack === undefined ? '' : `ws://127.0.0.1:${stack.brokerPort}/v1/session`;
  const echoWs = echo === undefined ? '' : `ws://127.0.0.1:${echo.port}/v1/session`;
  const assign = wants('assign') && stack !== undefined;
  const limit = wants('limit') && echo !== undefined;
  return [
    {
      name: 'kept WebSocket',
      ...(assign
        ? {
            usher: {
              id: 'assign.ws',
              label: 'assign: session.request over a kept WebSocket',
              system: 'usher',
              roles: stackRoles(stack),
              job: (round) =>
                requestJob(config, 'ws-persistent', brokerWs, `aw${round}`, [stack!.broker.pid]),
            },
          }
        : {}),
      ...(limit
        ? {
            reference: {
              id: 'limit.ws',
              label: 'limit: bare ws, parse + fixed reply, kept WebSocket',
              system: 'ws',
              roles: singleRole(echo, 'ws'),
              job: (round) => requestJob(config, 'ws-persistent', echoWs, `lw${round}`, [echo!.process.pid]),
            },
          }
        : {}),
    },
    {
      name: 'new WebSocket per request',
      ...(assign
        ? {
            usher: {
              id: 'assign.conn',
              label: 'assign: new WebSocket per request (connect, request, close)',
              system: 'usher',
              roles: stackRoles(stack),
              job: (round) =>
                requestJob(config, 'ws-per-connection', brokerWs, `ac${round}`, [stack!.broker.pid]),
            },
          }
        : {}),
      ...(limit
        ? {
            reference: {
              id: 'limit.conn',
              label: 'limit: bare ws connect, request, close',
              system: 'ws',
              roles: singleRole(echo, 'ws'),
              job: (round) =>
                requestJob(config, 'ws-per-connection', echoWs, `lc${round}`, [echo!.process.pid]),
            },
          }
        : {}),
    },
  ];
}
