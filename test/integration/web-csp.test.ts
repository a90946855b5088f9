// The built web app under the broker's security headers, in headless Chromium: served from the
// broker with the default origin policy (its own origin only) and helmet's CSP, it loads, asks
// for a session over its WebSocket, joins a media server on another port (ws:) and reports no
// CSP violation or page error. Needs the build in dist/web (`npx vite build`; `npm test` makes it).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { captureLogger, keys, startBroker, waitFor } from '../../server/broker/testing/harness.ts';
import { createMediaServer } from '../../server/media/index.ts';

const WEB_DIST = fileURLToPath(new URL('../../dist/web', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

test('the built app loads and joins under the CSP, from its own origin', { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(`${WEB_DIST}/index.html`), 'build the web app first: npx vite build');
  const tb = await startBroker(t, { staticDir: WEB_DIST });
  const { logger } = captureLogger();
  const media = await createMediaServer({ id: 'csp-media', port: 0, keys, logger, brokerUrl: tb.broker.url });
  t.after(() => media.close());
  await waitFor('the media server to register', async () => {
    const health = (await (await fetch(tb.http('/healthz'))).json()) as { servers: number };
    return health.servers === 1;
  });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { __csp: string[] }).__csp ??= [];
      (window as unknown as { __csp: string[] }).__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });

  // "localhost" is the origin the stack prints; the media server is at 127.0.0.1:<other port>.
  const url = `http://localhost:${tb.broker.port}/?room=csp-room&name=Ada&autojoin=1`;
  const response = await page.goto(url);
  assert.equal(response?.status(), 200);
  const csp = (await response?.headerValue('content-security-policy')) ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self' ws: wss:/);
  // The connection details are folded away in the call view: joined is read from the DOM.
  await page
    .getByTestId('status-state')
    .filter({ hasText: 'joined' })
    .waitFor({ state: 'attached', timeout: 20_000 });
  assert.equal((await page.getByTestId('status-server-id').textContent())?.trim(), 'csp-media');

  const violations = await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
  assert.deepEqual([...problems, ...violations], [], 'no CSP violation, no page error');
});
