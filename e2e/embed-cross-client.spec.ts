// One call between two kinds of client: <usher-call> on a customer's page (another origin) and
// the full app in its own page. A SIGKILL of their media server is seen by both — the element's
// `moved` event and the app's banner — and media flows again both ways afterwards.
import { expectMediaFlowing } from './fixtures/call-checks.ts';
import { expect, test, uniqueRoom, type WidgetPage } from './fixtures/embed-host.ts';
import { joinRoom, openParticipant, type Participant } from './fixtures/participants.ts';

const JOIN_TIMEOUT_MS = 20_000;

/** Video frames of `peerId` decoded by the element's session: they must keep increasing. */
async function expectWidgetVideoFrom(w: WidgetPage, peerId: string): Promise<void> {
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

test('the element and the app in one call survive a SIGKILL of their media server', async ({
  browser,
  stack,
  openWidget,
}, testInfo) => {
  const room = uniqueRoom('cross');
  const widget = await openWidget({ room, name: 'Ada' });
  let app: Participant | null = null;
  try {
    await expect
      .poll(async () => (await widget.events('joined')).length, { timeout: JOIN_TIMEOUT_MS })
      .toBe(1);
    const { serverId, peerId: widgetPeer } = (await widget.events('joined'))[0]!.detail as {
      serverId: string;
      peerId: string;
    };
    app = await openParticipant(browser, 'Bob');
    await joinRoom(app, stack.brokerUrl, room);
    await expect.poll(() => app!.serverId(), { timeout: JOIN_TIMEOUT_MS }).toBe(serverId);
    await expect.poll(() => app!.peerIds(), { timeout: JOIN_TIMEOUT_MS }).toEqual([widgetPeer]);
    await expect
      .poll(async () => (await widget.participants()).map((p) => p.name), { timeout: JOIN_TIMEOUT_MS })
      .toEqual(['Bob']);
    const appPeer = (await widget.participants())[0]!.id;
    await Promise.all([expectWidgetVideoFrom(widget, appPeer), expectMediaFlowing(app, widgetPeer)]);

    stack.kill(serverId, 'SIGKILL');
    await expect.poll(async () => (await widget.events('moved')).length, { timeout: 30_000 }).toBe(1);
    const moved = (await widget.events('moved'))[0]!.detail as { from: string; to: string };
    expect(moved.from).toBe(serverId);
    expect(moved.to).not.toBe(serverId);
    // The app shows it too (its banner goes by itself, so read the recorded changes).
    await expect
      .poll(
        async () =>
          (await app!.uiChanges()).some(
            (c) => c.testId === 'failover-banner' && /moved|back/i.test(c.text ?? ''),
          ),
        { timeout: 30_000, message: "the app's banner says the call moved" },
      )
      .toBe(true);
    await expect.poll(() => app!.serverId(), { timeout: 30_000 }).toBe(moved.to);
    await Promise.all([expectWidgetVideoFrom(widget, appPeer), expectMediaFlowing(app, widgetPeer)]);
    expect(await widget.events('error')).toEqual([]);
  } finally {
    if (app !== null) {
      if (testInfo.status !== testInfo.expectedStatus)
        await testInfo.attach('page-Bob.log', { body: app.log.join('\n'), contentType: 'text/plain' });
      await app.context.close().catch(() => undefined);
    }
  }
});
