// <usher-call> on a third-party page (another origin than the broker's): two elements join one
// call (ES module and classic script), mute state reaches the other side, the host page's CSS
// does not reach inside, a refused origin shows FORBIDDEN_ORIGIN, a SIGKILLed media server is
// seen as `moved`; and screenshots of the widget at 320 and 800 px, light and dark.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  expect,
  type HostPageOptions,
  type OpenWidget,
  test,
  uniqueRoom,
  type WidgetPage,
} from './fixtures/embed-host.ts';

const JOIN_TIMEOUT_MS = 20_000;
const SCREENSHOTS = 'test-results/screenshots';
/** Rules that break naive markup: every element a red block. */
const HOSTILE_CSS = '* { display: block !important; color: red !important; } button { width: 300px; }';

async function joined(w: WidgetPage): Promise<{ serverId: string; peerId: string }> {
  await expect
    .poll(async () => (await w.events('joined')).length, { timeout: JOIN_TIMEOUT_MS })
    .toBeGreaterThan(0);
  const detail = (await w.events('joined'))[0]!.detail as { serverId: string; peerId: string };
  return detail;
}

/** Video frames from `peerId` decoded by `w`'s session, sampled twice: they must increase. */
async function expectVideoFrom(w: WidgetPage, peerId: string): Promise<void> {
  const frames = (): Promise<number> =>
    w.page.evaluate(async (id) => {
      const el = document.querySelector('usher-call') as unknown as {
        session: { stats(): Promise<Record<string, { framesDecoded: number }>> } | null;
      };
      return (await el.session?.stats())?.[id]?.framesDecoded ?? 0;
    }, peerId);
  await expect
    .poll(frames, { timeout: JOIN_TIMEOUT_MS, message: `${w.name} decodes ${peerId}'s video` })
    .toBeGreaterThan(0);
  const before = await frames();
  await expect
    .poll(frames, { timeout: 10_000, message: `${w.name}: video keeps flowing` })
    .toBeGreaterThan(before);
}

async function callOfTwo(openWidget: OpenWidget, extra: Partial<HostPageOptions> = {}) {
  const room = uniqueRoom('embed');
  const a = await openWidget({ room, name: 'Ada', script: 'module', theme: 'light', ...extra });
  const b = await openWidget({ room, name: 'Bob', script: 'classic', theme: 'dark' });
  const [ja, jb] = await Promise.all([joined(a), joined(b)]);
  expect(ja.serverId, 'the room is on one server').toBe(jb.serverId);
  await expect
    .poll(async () => (await a.participants()).map((p) => p.name), { timeout: JOIN_TIMEOUT_MS })
    .toEqual(['Bob']);
  await expect
    .poll(async () => (await b.participants()).map((p) => p.name), { timeout: JOIN_TIMEOUT_MS })
    .toEqual(['Ada']);
  return { room, a, b, serverId: ja.serverId, peerOfA: ja.peerId, peerOfB: jb.peerId };
}

/** Computed styles inside the shadow root that naive markup would lose to the host's CSS. */
function shadowStyles(w: WidgetPage): Promise<Record<string, string>> {
  return w.page.evaluate(() => {
    const root = document.querySelector('usher-call')!.shadowRoot!;
    const out: Record<string, string> = {};
    const pick = (selector: string, props: string[]): void => {
      const el = root.querySelector(selector);
      if (el === null) throw new Error(`no ${selector} in the shadow root`);
      const style = getComputedStyle(el);
      for (const prop of props) out[`${selector} ${prop}`] = style.getPropertyValue(prop);
    };
    pick('.root', ['color', 'font-family', 'display']);
    pick('.controls', ['display', 'height']);
    pick('.ctl', ['display', 'width', 'color']);
    pick('.room', ['color', 'display']);
    pick('figcaption .label', ['color', 'display']);
    pick('svg', ['display', 'width']);
    return out;
  });
}

test.describe('<usher-call> embedded in another site', () => {
  test('two elements on a host page of another origin call each other; mute reaches the other side', async ({
    openWidget,
  }) => {
    const { a, b, peerOfA, peerOfB } = await callOfTwo(openWidget);
    await Promise.all([expectVideoFrom(a, peerOfB), expectVideoFrom(b, peerOfA)]);
    // Connection quality from getStats: an RTT and media arriving.
    const quality = () =>
      a.page.evaluate(() => {
        const el = document.querySelector('usher-call') as unknown as {
          participants: Array<{
            quality: { rttMs: number | null; bitrateIn: number | null; level: string } | null;
          }>;
        };
        return el.participants[0]?.quality ?? null;
      });
    await expect
      .poll(async () => (await quality())?.bitrateIn ?? 0, { timeout: 10_000 })
      .toBeGreaterThan(10_000);
    const sampled = await quality();
    expect(typeof sampled?.rttMs, 'an RTT from the selected candidate pair').toBe('number');
    expect(sampled?.level).toBe('good');
    const peerJoined = (await a.events('peer-joined')).map((event) => event.detail?.name);
    expect(peerJoined, 'one peer-joined per peer, not per track').toEqual(['Bob']);

    await a.shadow('button[aria-label="Mute microphone"]').click();
    await expect(a.shadow('button[aria-label="Unmute microphone"]')).toBeVisible();
    await expect
      .poll(async () => (await b.participants())[0]?.audioMuted, { message: "Bob sees Ada's mute" })
      .toBe(true);
    await expect(b.shadow(`[data-tile="${peerOfA}"] .mic-off`)).toBeVisible();
    await a.page.evaluate(() =>
      (document.querySelector('usher-call') as unknown as { unmute(): void }).unmute(),
    );
    await expect.poll(async () => (await b.participants())[0]?.audioMuted).toBe(false);
    await b.shadow('button[aria-label="Turn camera off"]').click();
    await expect.poll(async () => (await a.participants())[0]?.videoMuted).toBe(true);

    await b.shadow('button[aria-label="Leave call"]').click();
    await expect.poll(async () => (await b.events('left')).length).toBe(1);
    await expect
      .poll(async () => (await a.events('peer-left')).map((event) => event.detail?.name))
      .toEqual(['Bob']);
  });

  test("the host page's CSS does not change the widget", async ({ openWidget }) => {
    const { a } = await callOfTwo(openWidget, { css: HOSTILE_CSS });
    await expect(a.page.locator('h1'), 'the host CSS applies to the page').toHaveCSS(
      'color',
      'rgb(255, 0, 0)',
    );
    await expect(a.element, 'and to the element itself').toHaveCSS('color', 'rgb(255, 0, 0)');
    const hostile = await shadowStyles(a);
    // The same page without the rules: every style inside the widget must be the same.
    await a.page.evaluate(() => document.getElementById('site-css')!.remove());
    await expect(a.page.locator('h1')).not.toHaveCSS('color', 'rgb(255, 0, 0)');
    const clean = await shadowStyles(a);
    expect(hostile).toEqual(clean);
    expect(hostile['.ctl color']).not.toBe('rgb(255, 0, 0)');
    expect(hostile['.controls display']).toBe('flex');

    // theme="auto" follows the visitor's colour scheme; "light" stays light.
    const background = () => a.shadow('.root').evaluate((el) => getComputedStyle(el).backgroundColor);
    const light = await background();
    await a.page.emulateMedia({ colorScheme: 'dark' });
    expect(await background(), 'theme="light" ignores a dark scheme').toBe(light);
    await a.element.evaluate((el) => el.setAttribute('theme', 'auto'));
    await expect.poll(background).not.toBe(light);
  });

  test('screenshots at 320 and 800 px, light and dark', async ({ openWidget }) => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const { a, b } = await callOfTwo(openWidget);
    const element = a.element;
    for (const width of [320, 800]) {
      await a.page.setViewportSize({ width: width + 16, height: 720 });
      for (const theme of ['light', 'dark'] as const) {
        await element.evaluate((el, t) => el.setAttribute('theme', t), theme);
        const box = await element.boundingBox();
        expect(box?.width, `the widget fits ${width} px`).toBeLessThanOrEqual(width);
        // Every control is inside the widget and large enough to tap.
        for (const button of await a.shadow('.controls button').all()) {
          const b = await button.boundingBox();
          expect(b!.x + b!.width).toBeLessThanOrEqual(box!.x + box!.width);
          expect(b!.height).toBeGreaterThanOrEqual(40);
        }
        await element.screenshot({ path: join(SCREENSHOTS, `widget-${width}-${theme}.png`) });
      }
    }
    await a.shadow('button[aria-label="Participants"]').click();
    await expect(a.shadow('.people li')).toHaveCount(2);
    await a.page.setViewportSize({ width: 336, height: 720 });
    await element.screenshot({ path: join(SCREENSHOTS, 'widget-320-dark-participants.png') });
    // Bob turns off microphone and camera: Ada's tile of Bob shows his initials and a muted mic.
    await b.page.evaluate(() => {
      const el = document.querySelector('usher-call') as unknown as { mute(kind: string): void };
      el.mute('audio');
      el.mute('video');
    });
    await expect.poll(async () => (await a.participants())[0]?.videoMuted).toBe(true);
    await a.shadow('button[aria-label="Participants"]').click();
    await element.evaluate((el) => el.setAttribute('theme', 'light'));
    await expect(a.shadow('.avatar')).toHaveText('B');
    await element.screenshot({ path: join(SCREENSHOTS, 'widget-320-light-peer-muted.png') });
  });

  test('a site the broker does not allow sees FORBIDDEN_ORIGIN in the element', async ({ openWidget }) => {
    const started = Date.now();
    const w = await openWidget({ room: uniqueRoom('refused'), name: 'Eve', origin: 'refused' });
    await expect(w.shadow('.error')).toBeVisible({ timeout: JOIN_TIMEOUT_MS });
    await expect(w.shadow('.error strong')).toHaveText('FORBIDDEN_ORIGIN');
    await expect(w.shadow('.error')).toContainText('--allowed-origins');
    const errors = await w.events('error');
    expect(errors.map((event) => event.detail?.code)).toEqual(['FORBIDDEN_ORIGIN']);
    expect(errors[0]!.at - started, 'at once, not after retries').toBeLessThan(10_000);
    expect(await w.events('joined')).toEqual([]);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await w.element.screenshot({ path: join(SCREENSHOTS, 'widget-forbidden-origin.png') });
  });

  test('SIGKILL of the media server: both elements fire `moved` to one new server and video flows again', async ({
    openWidget,
    stack,
  }) => {
    const { a, b, serverId, peerOfA, peerOfB } = await callOfTwo(openWidget);
    await Promise.all([expectVideoFrom(a, peerOfB), expectVideoFrom(b, peerOfA)]);
    stack.kill(serverId, 'SIGKILL');
    const moved = async (w: WidgetPage) => {
      await expect.poll(async () => (await w.events('moved')).length, { timeout: 30_000 }).toBe(1);
      return (await w.events('moved'))[0]!.detail as { from: string; to: string };
    };
    const [ma, mb] = await Promise.all([moved(a), moved(b)]);
    expect(ma.from).toBe(serverId);
    expect(mb.from).toBe(serverId);
    expect(ma.to, 'one new server for the room').toBe(mb.to);
    expect(ma.to).not.toBe(serverId);
    expect((await a.events('reconnecting')).length).toBeGreaterThan(0);
    await expect(a.shadow('.status')).toHaveText('Live');
    await Promise.all([expectVideoFrom(a, peerOfB), expectVideoFrom(b, peerOfA)]);
    expect(await a.events('error')).toEqual([]);
  });
});
