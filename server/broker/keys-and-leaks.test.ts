// Key rotation and refusal of foreign tokens on the control channel, and no secret in any
// log line or error reply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { parseSecret } from '../common/keys.ts';
import { signControlToken, signTicket } from '../common/tickets.ts';
import {
  FakeMedia,
  healthyServers,
  keys,
  openSocket,
  postJson,
  registerMessage,
  SECRET,
  SessionClient,
  startBroker,
  waitFor,
} from './testing/harness.ts';

describe('keys and leaks', () => {
  test('control tokens: an old key is accepted while listed and refused once removed; other algorithms and purposes are refused', async (t) => {
    const oldRing = parseSecret(`k1:${'o'.repeat(32)}`);
    const rotating = await startBroker(t, { keys: parseSecret(`k2:${'n'.repeat(32)},k1:${'o'.repeat(32)}`) });
    const rotated = await startBroker(t, { keys: parseSecret(`k2:${'n'.repeat(32)}`) });
    const token = await signControlToken(oldRing, 'm1');
    const accepted = await openSocket(t, rotating.ws('/v1/control'));
    accepted.send(registerMessage('m1', token));
    assert.equal((await accepted.next()).type, 'registered');
    const refused = await openSocket(t, rotated.ws('/v1/control'));
    refused.send(registerMessage('m1', token));
    assert.equal((await refused.next()).code, 'UNAUTHORIZED');
    assert.equal((await refused.closed).code, 4401);

    const tb = await startBroker(t);
    const key = keys.derive('control', keys.current.kid)!;
    const claims = () =>
      new SignJWT({})
        .setIssuer('m2')
        .setSubject('m2')
        .setAudience('usher-control')
        .setIssuedAt()
        .setExpirationTime('60s');
    const forgeries: Array<[string, string]> = [
      [
        'HS512 with the right key',
        await claims()
          .setProtectedHeader({ alg: 'HS512', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .sign(key),
      ],
      ['no kid', await claims().setProtectedHeader({ alg: 'HS256', typ: 'usher-control+jwt' }).sign(key)],
      [
        'a ticket key',
        await claims()
          .setProtectedHeader({ alg: 'HS256', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .sign(keys.derive('ticket', keys.current.kid)!),
      ],
      [
        'a ticket',
        signTicket(keys, { sessionId: 'm2', room: 'r', serverId: 'usher-control', name: '', ttlSeconds: 30 })
          .ticket,
      ],
      [
        'expired',
        await claims()
          .setProtectedHeader({ alg: 'HS256', kid: keys.current.kid, typ: 'usher-control+jwt' })
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(key),
      ],
    ];
    for (const [what, forged] of forgeries) {
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      inbox.send(registerMessage('m2', forged));
      assert.equal((await inbox.next()).code, 'UNAUTHORIZED', what);
      assert.equal((await inbox.closed).code, 4401, what);
    }
    assert.equal(await healthyServers(tb), 0);
  });

  test('binary frames on the control channel are refused like any bad first message', async (t) => {
    const tb = await startBroker(t);
    const inbox = await openSocket(t, tb.ws('/v1/control'));
    inbox.socket.send(
      Buffer.from(JSON.stringify(registerMessage('m1', await signControlToken(keys, 'm1')))),
      {
        binary: true,
      },
    );
    assert.equal((await inbox.next()).code, 'BAD_MESSAGE');
    assert.equal((await inbox.closed).code, 4400);
  });

  test('no secret, token, ticket or resume proof reaches a log line or an error reply', async (t) => {
    const adminToken = 'admin-token-abcdefghijklmnop';
    const metricsToken = 'metrics-token-abcdefghijklmnop';
    const tb = await startBroker(t, { adminToken, metricsToken });
    const secrets = new Set<string>([SECRET, adminToken, metricsToken]);
    const media = await FakeMedia.connect(t, tb, 'm1');
    const controlToken = await signControlToken(keys, 'm1');
    secrets.add(controlToken);
    // A second registration with the same id and a valid token: refused, token not logged.
    const dup = await openSocket(t, tb.ws('/v1/control'));
    dup.send(registerMessage('m1', controlToken));
    const replies: unknown[] = [await dup.next()];
    // Bad tokens, bad URLs with credentials.
    for (const message of [
      registerMessage('m2', `${controlToken}x`),
      registerMessage('m3', await signControlToken(keys, 'm3'), { url: 'ws://user:hunter2-password@h/' }),
    ]) {
      const inbox = await openSocket(t, tb.ws('/v1/control'));
      inbox.send(message);
      replies.push(await inbox.next());
      secrets.add(message.token as string);
    }
    secrets.add('hunter2-password');
    const client = await SessionClient.open(t, tb);
    const assigned = await client.request({ room: 'lobby', name: 'Ada' });
    secrets.add(assigned.ticket as string);
    replies.push(await client.request({ room: 'lobby', resume: `${assigned.ticket as string}x` }));
    secrets.add(`${assigned.ticket as string}x`);
    replies.push(await client.request({ room: 'elsewhere', resume: assigned.ticket }));
    replies.push(await client.request({ room: 'lobby', ticket: assigned.ticket }));
    const http = await postJson(tb.http('/v1/sessions'), {
      type: 'session.request',
      v: 1,
      id: 'h1',
      room: 'lobby',
      resume: 'eyJhbGciOiJIUzI1NiJ9.forged-resume-proof.sig',
    });
    replies.push(http.body);
    secrets.add('forged-resume-proof');
    for (const headers of [
      { authorization: `Bearer ${adminToken}x` },
      { authorization: `Bearer ${metricsToken}` },
    ]) {
      const response = await fetch(tb.http('/admin/v1/servers'), { headers });
      replies.push(await response.text());
      secrets.add(headers.authorization.slice(7));
    }
    replies.push(
      await (await fetch(tb.http('/metrics'), { headers: { authorization: `Bearer ${adminToken}` } })).text(),
    );
    media.inbox.socket.terminate();
    await waitFor('the loss', () => tb.logged('media server lost').length === 1);

    const logs = JSON.stringify(tb.records);
    const answered = JSON.stringify(replies);
    for (const secret of secrets) {
      assert.equal(logs.includes(secret), false, `a log line holds ${secret.slice(0, 12)}…`);
      assert.equal(answered.includes(secret), false, `a reply holds ${secret.slice(0, 12)}…`);
    }
    assert.ok(tb.records.length > 5, 'the flow was logged at debug level');
  });

  test('/metrics behind a token: 401 without it, the metrics with it', async (t) => {
    const tb = await startBroker(t, { metricsToken: 'metrics-token-0123456789' });
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'metrics-token-0123456789' },
    ];
    for (const headers of attempts) {
      const response = await fetch(tb.http('/metrics'), { headers });
      const text = await response.text();
      assert.equal(response.status, 401);
      assert.equal((JSON.parse(text) as { code: string }).code, 'UNAUTHORIZED');
      assert.doesNotMatch(text, /usher_broker|process_cpu/);
    }
    const ok = await fetch(tb.http('/metrics'), {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /usher_broker_media_servers 0/);
  });
});
