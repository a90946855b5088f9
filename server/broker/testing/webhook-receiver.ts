// Test fixture: the application's webhook endpoint on 127.0.0.1:0, verifying every POST with
// the SDK's verifyWebhook (and its replay guard), recording the events it accepted in order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiKeys } from '../../common/join-token.ts';
import { MemoryReplayGuard, verifyWebhook, type WebhookEvent } from '../../sdk/index.ts';

export interface WebhookReceiver {
  readonly url: string;
  /** Accepted events, in arrival order, with the time each arrived. */
  readonly events: Array<WebhookEvent & { receivedAt: number }>;
  /** Refusals by code (a bad signature, a replay…). */
  readonly refused: string[];
  /** While true, every request's connection is cut unanswered (the receiver is down). */
  down: boolean;
  of(event: WebhookEvent['event']): WebhookEvent[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  t: { after(fn: () => Promise<void>): void },
  apiKeys: ApiKeys,
): Promise<WebhookReceiver> {
  const seen = new MemoryReplayGuard();
  const events: Array<WebhookEvent & { receivedAt: number }> = [];
  const refused: string[] = [];
  const state = { down: false };
  const server: Server = createServer((request, response) => {
    if (state.down) {
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const event = verifyWebhook(
          Buffer.concat(chunks).toString('utf8'),
          request.headers.authorization,
          apiKeys,
          {
            seen,
          },
        );
        events.push({ ...event, receivedAt: Date.now() });
        response.writeHead(204).end();
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'UNKNOWN';
        refused.push(code);
        // A replay is one the receiver already has: 2xx, as docs/INTEGRATION.md advises.
        response.writeHead(code === 'WEBHOOK_REPLAYED' ? 200 : 401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    events,
    refused,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    of: (name) => events.filter((event) => event.event === name),
    close,
  };
}
