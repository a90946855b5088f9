// CPU cost of each piece of one session request and one join, measured in-process, so the
// report can say where the broker's and the media server's time per operation goes.

import { ApiKeys, signJoinToken, verifyJoinToken } from '../../server/common/join-token.ts';
import { parseSecret } from '../../server/common/keys.ts';
import { randomId, resumedSessionId, signTicket, verifyTicket } from '../../server/common/tickets.ts';
import { turnCredentials } from '../../server/common/turn.ts';
import { BrokerInbound, createDecoder } from '../../shared/index.ts';

const cpuUs = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

async function cost(count: number, body: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(2000, count); i += 1) await body(i);
  const start = cpuUs();
  for (let i = 0; i < count; i += 1) await body(i);
  return (cpuUs() - start) / count;
}

/** µs per call of each piece (the request path's and the join's). */
export async function measureParts(count: number): Promise<Record<string, number>> {
  const keys = parseSecret('parts-bench-secret-0123456789abcdef');
  const decoder = createDecoder(BrokerInbound);
  const turn = {
    urls: ['turn:127.0.0.1:3478?transport=udp'],
    secret: 'turn-secret-0123456789',
    ttlSeconds: 3600,
  };
  const raw = (i: number): string =>
    `{"type":"session.request","v":1,"id":"${i.toString(36)}","room":"room-${i >> 2}","name":"bench"}`;
  const input = {
    sessionId: 'abcdefghijklmnop',
    room: 'room-1',
    serverId: 'm1',
    name: 'bench',
    ttlSeconds: 30,
  };
  const { ticket } = signTicket(keys, input);
  const apiKeys = new ApiKeys([{ id: 'app1', secret: 'parts-bench-api-secret-0123456789abcdef' }]);
  const joinToken = signJoinToken(apiKeys.current, {
    room: 'room-1',
    identity: 'user-42',
    name: 'Bench User',
    ttlSeconds: 600,
  });
  const reply = {
    type: 'session.assigned',
    v: 1,
    id: 'r1',
    sessionId: input.sessionId,
    room: 'room-1',
    server: { id: 'm1', url: 'ws://127.0.0.1:10000/v1/media' },
    ticket,
    ticketExpiresAt: Date.now() + 30_000,
    ping: { intervalMs: 1000, timeoutMs: 2500 },
    iceServers: [{ urls: ['stun:127.0.0.1:3478'] }, turnCredentials(turn, input.sessionId)],
    client: { address: '127.0.0.1', port: 40000 },
  };
  return {
    'decode session.request (JSON.parse + schema)': await cost(count, (i) => decoder.decode(raw(i))),
    'randomId (session id, ticket jti: 2 per request)': await cost(count, () => randomId()),
    'signTicket (HMAC-SHA256 JWS)': await cost(count, () => signTicket(keys, input)),
    'turnCredentials (HMAC-SHA1)': await cost(count, () => turnCredentials(turn, input.sessionId)),
    'JSON.stringify session.assigned': await cost(count, () => JSON.stringify(reply)),
    'media: verifyTicket (HMAC-SHA256 JWS check)': await cost(Math.ceil(count / 5), () =>
      verifyTicket(keys, ticket, 'm1'),
    ),
    'token mode: verifyJoinToken (HMAC-SHA256 JWS + claims schema)': await cost(count, () =>
      verifyJoinToken(apiKeys, joinToken, 'room-1'),
    ),
    'failover: resumedSessionId (HMAC-SHA256 JWS check)': await cost(count, () =>
      resumedSessionId(keys, ticket, input.room, 86_400),
    ),
  };
}
