// An application's backend reduced to what Usher needs from it: a route that mints a join
// token for the logged-in user, and a route that receives Usher's webhooks. Shown verbatim in
// docs/INTEGRATION.md and run by server/sdk/example-backend.test.ts.
import { createServer } from 'node:http';
import {
  type ApiKey,
  createJoinToken,
  MemoryReplayGuard,
  UsherError,
  verifyWebhook,
  type WebhookEvent,
} from './index.ts';

type User = { id: string; name: string };

/** `sessions`: your own login state (session cookie → user); `onEvent`: what you do with webhooks. */
export function exampleBackend(
  apiKey: ApiKey,
  sessions: Map<string, User>,
  onEvent: (event: WebhookEvent) => void,
) {
  const seen = new MemoryReplayGuard(); // one process; several need a shared store (Redis SET NX)
  return createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 1_000_000) req.destroy();
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://backend');
      try {
        if (req.method === 'GET' && url.pathname === '/usher-token') {
          const user = sessions.get(/(?:^|;\s*)session=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '');
          if (user === undefined) return void res.writeHead(401).end();
          const room = url.searchParams.get('room') ?? '';
          // Decide here whether this user may enter this room (your rules, your database).
          const token = createJoinToken({
            apiKey,
            room,
            identity: user.id,
            name: user.name,
            ttlSeconds: 300,
          });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
        } else if (req.method === 'POST' && url.pathname === '/usher-webhooks') {
          onEvent(verifyWebhook(body, req.headers.authorization, [apiKey], { seen }));
          res.writeHead(204).end();
        } else res.writeHead(404).end();
      } catch (error) {
        // A replayed id is an event you already have: 200 stops the broker's retries.
        const known = error instanceof UsherError;
        const status = !known ? 500 : error.code === 'WEBHOOK_REPLAYED' ? 200 : error.status;
        res.writeHead(status).end(known ? error.code : 'INTERNAL');
      }
    });
  });
}
