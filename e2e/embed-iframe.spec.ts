// The header side of the iframe embed: the app may be framed by the sites in --allowed-origins
// (CSP frame-ancestors) and by no one else. The app's embed mode and postMessage API are the
// web app's; this checks only what the broker's headers let a browser do.
import { expect, test } from './fixtures/embed-host.ts';

const framePage = (brokerUrl: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>framing site</title></head>
<body><iframe id="usher" src="${brokerUrl}/" width="800" height="500" allow="camera; microphone"></iframe></body></html>`;

test.describe('framing the app', () => {
  test('an allowed origin may frame the app; another origin is refused by the browser', async ({
    browser,
    stack,
    host,
  }) => {
    const path = host.page(framePage(stack.brokerUrl));
    const context = await browser.newContext();
    try {
      const allowed = await context.newPage();
      await allowed.goto(`${host.allowedOrigin}${path}`);
      const appFrame = allowed.frameLocator('#usher');
      // The app rendered inside the frame: it has a form to join a room.
      await expect(appFrame.locator('body')).not.toBeEmpty({ timeout: 15_000 });
      await expect(appFrame.locator('input, button').first()).toBeVisible({ timeout: 15_000 });

      const refused = await context.newPage();
      const blocked = new Promise<string>((resolve) =>
        refused.on('console', (message) => {
          if (/frame-ancestors/.test(message.text())) resolve(message.text());
        }),
      );
      await refused.goto(`${host.refusedOrigin}${path}`);
      expect(await blocked, 'Chrome reports the frame-ancestors refusal').toMatch(/frame-ancestors/);
      await expect(refused.frameLocator('#usher').locator('input, button')).toHaveCount(0);
    } finally {
      await context.close();
    }
  });
});
