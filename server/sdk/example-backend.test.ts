// The example backend of docs/INTEGRATION.md, run for real on 127.0.0.1: it mints tokens the
// broker's check accepts for logged-in users only, and takes signed webhooks (once each).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ERROR_CODES } from '../../shared/errors.ts';
import { DEFAULT_GRANTS, JoinTokenClaims } from '../../shared/protocol/join-token.ts';
import { WEBHOOK_EVENT_NAMES } from '../../shared/protocol/webhooks.ts';
import { signWebhook } from '../broker/webhooks.ts';
import { ApiKeys, verifyJoinToken } from '../common/join-token.ts';
import { exampleBackend } from './example-backend.ts';
import type { WebhookEvent } from './index.ts';

const apiKey = { id: 'app', secret: 'example-backend-secret-0123456789abc' };

test('docs/INTEGRATION.md shows the example backend as it is, and names every claim, grant, event and code', () => {
  const doc = readFileSync(new URL('../../docs/INTEGRATION.md', import.meta.url), 'utf8');
  const source = readFileSync(new URL('./example-backend.ts', import.meta.url), 'utf8');
  const body = source.slice(source.indexOf('import '));
  assert.ok(doc.includes(body), 'the doc has the file verbatim');
  // …and the token's claims, its grants, every event and every admission code.
  for (const claim of Object.keys(JoinTokenClaims.properties))
    assert.ok(doc.includes(`| \`${claim}\` |`), claim);
  for (const grant of Object.keys(DEFAULT_GRANTS)) assert.ok(doc.includes(`| \`${grant}\` |`), grant);
  for (const event of WEBHOOK_EVENT_NAMES) assert.ok(doc.includes(`| \`${event}\` |`), event);
  for (const code of ERROR_CODES.filter((name) => /^(TOKEN|WEBHOOK)_/.test(name)))
    assert.ok(doc.includes(`\`${code}\``), code);
});

test('the example backend mints tokens for logged-in users and takes signed webhooks once', async (t) => {
  const events: WebhookEvent[] = [];
  const sessions = new Map([['s3cr3t-session', { id: 'user-42', name: 'Ada' }]]);
  const server = exampleBackend(apiKey, sessions, (event) => events.push(event));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const anonymous = await fetch(`${base}/usher-token?room=standup`);
  assert.equal(anonymous.status, 401);
  const minted = await fetch(`${base}/usher-token?room=standup`, {
    headers: { cookie: 'session=s3cr3t-session' },
  });
  assert.equal(minted.status, 200);
  const { token } = (await minted.json()) as { token: string };
  const verified = verifyJoinToken(new ApiKeys([apiKey]), token, 'standup');
  assert.equal(verified.identity, 'user-42');
  assert.equal(verified.name, 'Ada');
  const badRoom = await fetch(`${base}/usher-token?room=${encodeURIComponent('no spaces')}`, {
    headers: { cookie: 'session=s3cr3t-session' },
  });
  assert.equal(badRoom.status, 401);
  assert.equal(await badRoom.text(), 'TOKEN_MALFORMED');

  const body = JSON.stringify({
    id: 'e1',
    createdAt: Date.now(),
    event: 'room.started',
    room: 'standup',
    server: 'm1',
  });
  const deliver = (authorization: string, text = body) =>
    fetch(`${base}/usher-webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization },
      body: text,
    });
  const authorization = signWebhook(apiKey, body);
  assert.equal((await deliver(authorization)).status, 204);
  assert.equal((await deliver(authorization)).status, 200, 'a replay is acknowledged, not processed');
  assert.equal((await deliver(authorization, body.replace('m1', 'm2'))).status, 401);
  assert.equal((await deliver('')).status, 401);
  assert.deepEqual(
    events.map((event) => event.id),
    ['e1'],
  );
});
