// Which origins may use the broker, the CORS answers they get, and the security headers on
// pages but not on API routes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FakeMedia, openSocket, postJson, SessionClient, startBroker } from './testing/harness.ts';

describe('origins, CORS and security headers', () => {
  const request = { type: 'session.request', v: 1, id: 'o1', room: 'lobby' };

  test("without an allowlist only the broker's own origin (and non-browser clients) may use it", async (t) => {
    const tb = await startBroker(t);
    await FakeMedia.connect(t, tb, 'm1');
    const own = tb.broker.url;
    const sameHost = await SessionClient.open(t, tb, { origin: own });
    assert.equal((await sameHost.request({ room: 'lobby' })).type, 'session.assigned');
    const noOrigin = await SessionClient.open(t, tb);
    assert.equal((await noOrigin.request({ room: 'lobby' })).type, 'session.assigned');
    // The socket opens so a page can read why: an `error` frame, then close 4403 (not a bare 1006).
    const refused = await openSocket(t, tb.ws('/v1/session'), { origin: 'https://elsewhere.example' });
    assert.equal((await refused.next()).code, 'FORBIDDEN_ORIGIN');
    assert.equal((await refused.closed).code, 4403);
    await assert.rejects(
      openSocket(t, tb.ws('/v1/control'), { origin: 'https://elsewhere.example' }),
      /unexpected response 403/,
    );
    const foreign = await postJson(tb.http('/v1/sessions'), request, { origin: 'https://elsewhere.example' });
    assert.deepEqual([foreign.status, foreign.body.code], [403, 'FORBIDDEN_ORIGIN']);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const ok = await postJson(tb.http('/v1/sessions'), request, { origin: own });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), own);
    assert.match(ok.headers.get('vary') ?? '', /origin/i);
  });

  test('"*" allows any origin and CORS answers *', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['*'] });
    await FakeMedia.connect(t, tb, 'm1');
    const anywhere = await SessionClient.open(t, tb, { origin: 'https://anywhere.example' });
    assert.equal((await anywhere.request({ room: 'lobby' })).type, 'session.assigned');
    const ok = await postJson(tb.http('/v1/sessions'), request, { origin: 'https://anywhere.example' });
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  });

  test('preflight: allowed origin ⇒ 204 with methods, headers, max-age and exposed rate headers; others ⇒ no CORS', async (t) => {
    const tb = await startBroker(t, { allowedOrigins: ['https://app.example'] });
    const preflight = (origin: string, path = '/v1/sessions') =>
      fetch(tb.http(path), {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight('https://app.example');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(allowed.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(allowed.headers.get('access-control-allow-headers'), 'content-type');
    assert.equal(allowed.headers.get('access-control-max-age'), '600');
    assert.match(allowed.headers.get('access-control-expose-headers') ?? '', /retry-after/);
    for (const [origin, path] of [
      ['https://evil.example', '/v1/sessions'],
      ['https://app.example', '/admin/v1/servers'],
      ['https://app.example', '/metrics'],
    ] as const) {
      const refused = await preflight(origin, path);
      assert.equal(refused.status, 404, `${origin} ${path}`);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      assert.equal(((await refused.json()) as { code: string }).code, 'NOT_FOUND');
    }
  });

  test('pages carry helmet headers with a CSP the app works with; the API routes do not pay for them', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>usher</title>');
    const tb = await startBroker(t, { staticDir: dir });
    for (const path of ['/', '/rooms/lobby', '/missing.js']) {
      const page = await fetch(tb.http(path), { headers: { accept: 'text/html' } });
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/, path);
      assert.match(csp, /connect-src 'self' ws: wss:/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /frame-ancestors 'self'/, path);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'ws:// media URLs must stay ws://');
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN', path);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    }
    const api = await fetch(tb.http('/healthz'));
    assert.equal(api.headers.get('content-security-policy'), null);
  });

  test('frame-ancestors follows the allowed origins; X-Frame-Options only when no other site may frame', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>usher</title>');
    const listed = await startBroker(t, {
      staticDir: dir,
      allowedOrigins: ['https://customer.example', 'http://localhost:5173/', 'not an origin'],
    });
    const page = await fetch(listed.http('/embed'), { headers: { accept: 'text/html' } });
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'self' https:\/\/customer\.example http:\/\/localhost:5173(;|$)/);
    assert.equal(page.headers.get('x-frame-options'), null);
    // The embedded app learns the same list to decide whether its parent may drive it.
    const config = await fetch(listed.http('/v1/embed-config'));
    assert.equal(config.status, 200);
    assert.deepEqual(await config.json(), {
      frameAncestors: ['https://customer.example', 'http://localhost:5173'],
    });
    const none = await startBroker(t, { staticDir: dir });
    assert.deepEqual(await (await fetch(none.http('/v1/embed-config'))).json(), { frameAncestors: [] });
    const any = await startBroker(t, { staticDir: dir, allowedOrigins: ['*'] });
    const anyCsp = (await fetch(any.http('/'), { headers: { accept: 'text/html' } })).headers.get(
      'content-security-policy',
    );
    assert.match(anyCsp ?? '', /frame-ancestors 'self' \*(;|$)/);
    assert.deepEqual(await (await fetch(any.http('/v1/embed-config'))).json(), { frameAncestors: ['*'] });
  });
});
