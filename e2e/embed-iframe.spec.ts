// The iframe embed from another site: the broker's headers decide who may frame the app
// (frame-ancestors follows --allowed-origins); the helper /embed/v1/usher-embed.js makes the
// frame, joins with the host's token and drives the call over postMessage; a parent the broker
// does not allow cannot drive it. Screenshots of the frame at 400 and 800 px, light and dark.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import {
  type EmbedPage,
  expect,
  iframeHostHtml,
  openEmbedPage,
  test,
  uniqueRoom,
} from './fixtures/embed-host.ts';
import { joinRoom, openParticipant, type Participant } from './fixtures/participants.ts';

const JOIN_TIMEOUT_MS = 20_000;
const SCREENSHOTS = 'test-results/screenshots';
/** The app's dark-scheme --card colour (web/app/styles.css), the control bar's background. */
const DARK_CARD = 'rgb(27, 32, 41)';

const framePage = (src: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>framing site</title></head>
<body><iframe id="usher" src="${src}" width="800" height="500" allow="camera; microphone"></iframe></body></html>`;

async function eventTypes(embed: EmbedPage): Promise<string[]> {
  return (await embed.events()).map((event) => event.type);
}

test.describe('the app in an iframe of another site', () => {
  test('an allowed origin may frame the app; another origin is refused by the browser', async ({
    browser,
    stack,
    host,
  }) => {
    const path = host.page(framePage(`${stack.brokerUrl}/`));
    const context = await browser.newContext();
    try {
      const allowed = await context.newPage();
      await allowed.goto(`${host.allowedOrigin}${path}`);
      const appFrame = allowed.frameLocator('#usher');
      // The app rendered inside the frame: it has a form to join a room.
      await expect(appFrame.locator('body')).not.toBeEmpty({ timeout: 15_000 });
      await expect(appFrame.locator('input, button').first()).toBeVisible({ timeout: 15_000 });

      const refused = await context.newPage();
      const blocked = frameAncestorsRefusal(refused);
      await refused.goto(`${host.refusedOrigin}${path}`);
      expect(await blocked, 'Chrome reports the frame-ancestors refusal').toMatch(/frame-ancestors/);
      await expect(refused.frameLocator('#usher').locator('input, button')).toHaveCount(0);
    } finally {
      await context.close();
    }
  });

  test('the helper embeds the call, joins with the host token, mutes by command and reports events', async ({
    browser,
    stack,
    host,
  }) => {
    const room = uniqueRoom('iframe');
    const opened: Array<{ close(): Promise<void> }> = [];
    try {
      const ada = await openEmbedPage(browser, stack.brokerUrl, host, { room, name: 'Ada' });
      opened.push(ada.context);
      await expect.poll(() => eventTypes(ada), { timeout: JOIN_TIMEOUT_MS }).toContain('joined');
      const types = await eventTypes(ada);
      expect(types[0], 'ready comes first').toBe('ready');
      const joined = (await ada.events('joined'))[0]!.detail as { room: string; serverId: string };
      expect(joined.room).toBe(room);
      expect(joined.serverId).toMatch(/^media-/);
      // No page chrome in embed mode, and the call fills the frame.
      await expect(ada.app.locator('.app-header')).toHaveCount(0);
      await expect(ada.app.getByTestId('toggle-mic')).toBeVisible();

      const bob: Participant = await openParticipant(browser, 'Bob');
      opened.push(bob.context);
      await joinRoom(bob, stack.brokerUrl, room);
      await expect
        .poll(
          async () =>
            (await ada.events('peer-joined')).map((e) => (e.detail as { peer: { name: string } }).peer.name),
          {
            timeout: JOIN_TIMEOUT_MS,
          },
        )
        .toEqual(['Bob']);

      await ada.command('mute', 'audio');
      await expect(ada.app.getByTestId('toggle-mic')).toHaveAttribute('aria-pressed', 'true');
      await expect
        .poll(async () => (await ada.events('muted')).at(-1)?.detail)
        .toMatchObject({ type: 'muted', audio: true, video: false });
      await ada.command('mute', 'video');
      await expect(ada.app.getByTestId('toggle-camera')).toHaveAttribute('aria-pressed', 'true');
      await expect
        .poll(async () => (await ada.events('muted')).at(-1)?.detail)
        .toMatchObject({ video: true });
      await ada.command('unmute', 'video');
      await ada.command('unmute', 'audio');
      await expect
        .poll(async () => (await ada.events('muted')).at(-1)?.detail)
        .toMatchObject({ audio: false, video: false });

      await screenshots(ada);

      // Bob leaves: Ada's host sees peer-left; then the host ends Ada's call.
      await bob.testId('leave-button').click();
      await expect
        .poll(async () => (await ada.events('peer-left')).length, { timeout: JOIN_TIMEOUT_MS })
        .toBe(1);
      await ada.command('leave');
      await expect
        .poll(async () => (await ada.events('left')).at(-1)?.detail)
        .toMatchObject({ reason: 'leave' });
      expect(await ada.events('error')).toEqual([]);
    } finally {
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    }
  });

  test("the host's token is the one used: a bad one ends in error, not in a dev-endpoint join", async ({
    browser,
    stack,
    host,
  }) => {
    const bad = await openEmbedPage(browser, stack.brokerUrl, host, {
      room: uniqueRoom('token'),
      name: 'Mallory',
      token: 'not-a-join-token',
    });
    try {
      await expect.poll(() => eventTypes(bad), { timeout: JOIN_TIMEOUT_MS }).toContain('left');
      const [error] = await bad.events('error');
      expect((error?.detail as { code?: string } | undefined)?.code, 'a catalogue code').toMatch(/^[A-Z_]+$/);
      expect(await bad.events('joined')).toEqual([]);
      expect((await bad.events('left'))[0]?.detail).toMatchObject({ reason: 'error' });
    } finally {
      await bad.context.close();
    }
  });

  test('a parent the broker does not allow cannot drive the call', async ({ browser, stack, host }) => {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    try {
      // 1. The helper on a refused origin: the browser refuses the frame; nothing comes back.
      const refused = await context.newPage();
      const blocked = frameAncestorsRefusal(refused);
      const room = uniqueRoom('refused');
      await refused.goto(
        `${host.refusedOrigin}${host.page(iframeHostHtml(stack.brokerUrl, { room, name: 'Eve' }))}`,
      );
      await blocked;
      expect(
        await refused.evaluate(() => (window as unknown as { __embedEvents: unknown[] }).__embedEvents),
        'a refused frame sends no event, not even ready',
      ).toEqual([]);

      // 2. Framing allowed, but the frame is told its parent is another (not allowed) origin:
      //    beside it a frame with the truth, as the control. Both get the same `join` command.
      const src = (parent: string) =>
        `${stack.brokerUrl}/embed?room=${room}&name=Eve&autojoin=0&parent=${encodeURIComponent(parent)}`;
      const page = await context.newPage();
      await page.goto(
        `${host.allowedOrigin}${host.page(`<!doctype html><html><head><meta charset="utf-8"><title>two frames</title></head><body>
<iframe id="lie" src="${src(host.refusedOrigin)}" width="400" height="420" allow="camera; microphone"></iframe>
<iframe id="truth" src="${src(host.allowedOrigin)}" width="400" height="420" allow="camera; microphone"></iframe>
<script>
  window.__got = [];
  addEventListener('message', (event) => {
    const from = [...document.querySelectorAll('iframe')].find((f) => f.contentWindow === event.source);
    window.__got.push({ from: from ? from.id : 'other', type: event.data && event.data.type });
  });
</script></body></html>`)}`,
      );
      const got = () =>
        page.evaluate(() => (window as unknown as { __got: Array<{ from: string; type: string }> }).__got);
      await expect.poll(got, { timeout: JOIN_TIMEOUT_MS }).toContainEqual({ from: 'truth', type: 'ready' });
      await expect(page.frameLocator('#lie').getByRole('button', { name: /join/i }).first()).toBeVisible();
      // Before `join` (autojoin=0) the frame shows the app's pre-join, without the page header.
      await expect(page.frameLocator('#lie').locator('.app-header')).toHaveCount(0);
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.locator('#lie').screenshot({ path: join(SCREENSHOTS, 'iframe-400-prejoin.png') });
      await page.evaluate((brokerOrigin) => {
        for (const frame of document.querySelectorAll('iframe'))
          frame.contentWindow?.postMessage({ usher: 1, type: 'join' }, brokerOrigin);
      }, new URL(stack.brokerUrl).origin);
      await expect.poll(got, { timeout: JOIN_TIMEOUT_MS }).toContainEqual({ from: 'truth', type: 'joined' });
      expect(
        (await got()).filter((m) => m.from !== 'truth'),
        'no event from the misled frame',
      ).toEqual([]);
      const lie = page.frames().find((f) => f.url().includes(encodeURIComponent(host.refusedOrigin)));
      expect(lie, 'the misled frame is there').toBeDefined();
      expect(
        await lie!.evaluate(() => (window as unknown as { __usher: { state(): string } }).__usher.state()),
        'the command did not join it',
      ).toBe('idle');
    } finally {
      await context.close();
    }
  });
});

function frameAncestorsRefusal(page: Page): Promise<string> {
  return new Promise<string>((resolve) =>
    page.on('console', (message) => {
      if (/frame-ancestors/.test(message.text())) resolve(message.text());
    }),
  );
}

/** The frame at 400 and 800 px, light and dark (the host page's colour scheme reaches the frame). */
async function screenshots(embed: EmbedPage): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [width, height] of [
    [400, 560],
    [800, 500],
  ] as const) {
    await embed.page.setViewportSize({ width: width + 16, height: height + 16 });
    await embed.page.evaluate(
      ([w, h]) => {
        const box = document.getElementById('call')!;
        box.style.width = `${w}px`;
        box.style.height = `${h}px`;
      },
      [width, height] as const,
    );
    for (const colorScheme of ['light', 'dark'] as const) {
      await embed.page.emulateMedia({ colorScheme });
      // The emulation reaches the (out-of-process) frame a moment later: wait until its control
      // bar has the scheme's colour and two frames were painted since.
      const app = embed.page.frames().find((f) => new URL(f.url()).pathname === '/embed');
      const controlBar = () =>
        app!.evaluate(async () => {
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return getComputedStyle(document.querySelector('.controls')!).backgroundColor;
        });
      if (colorScheme === 'dark') await expect.poll(controlBar).toBe(DARK_CARD);
      else await expect.poll(controlBar).not.toBe(DARK_CARD);
      // Every control is inside the frame.
      const frame = await embed.iframe.boundingBox();
      for (const button of await embed.app.locator('.controls button:visible').all()) {
        const b = await button.boundingBox();
        expect(b!.x + b!.width, `a control inside the ${width} px frame`).toBeLessThanOrEqual(
          frame!.x + frame!.width + 0.5,
        );
        expect(b!.y + b!.height).toBeLessThanOrEqual(frame!.y + frame!.height + 0.5);
      }
      await embed.iframe.screenshot({ path: join(SCREENSHOTS, `iframe-${width}-${colorScheme}.png`) });
    }
  }
}
