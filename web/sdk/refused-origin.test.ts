// A page on an origin the broker does not allow gets FORBIDDEN_ORIGIN from join(), at once and
// without retries, against the real broker (which explains the refusal inside the socket).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { startBroker } from '../../server/broker/testing/harness.ts';
import { UsherClientError } from './errors.ts';
import { UsherSession } from './session.ts';
import type { WebSocketConstructor } from './websocket.ts';

/** What a browser on `origin` sends. */
function fromOrigin(origin: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { origin });
    }
  } as unknown as WebSocketConstructor;
}

describe('refused origin', () => {
  test('join rejects with FORBIDDEN_ORIGIN (not BROKER_UNREACHABLE), nothing retried', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['http://allowed.example'] });
    const session = new UsherSession({
      brokerUrl: tb.ws('/v1/session'),
      room: 'lobby',
      WebSocket: fromOrigin('http://refused.example'),
    });
    t.after(() => session.leave());
    const retries: string[] = [];
    session.on('retrying', (event) => retries.push(String(event.code)));
    await assert.rejects(
      session.join(),
      (error: unknown) => error instanceof UsherClientError && error.code === 'FORBIDDEN_ORIGIN',
    );
    assert.deepEqual(retries, []);
    assert.equal(session.state, 'idle');
  });
});
