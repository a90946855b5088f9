// Browser end-to-end for the app as a person uses it: in-call controls seen by the other
// person (mute, camera off, screen share), accessibility (axe) and screenshots of the call page
// at desktop and phone sizes, light and dark. Pages join through the real broker + media stack.
import { expectAccessible, expectOnScreen, SCREENSHOTS, screenshots, VIEWPORTS } from './fixtures/app-ui.ts';
import { expectMediaFlowing, joinPair } from './fixtures/call-checks.ts';
import { expect, type Participant, test } from './fixtures/participants.ts';

/** The video track each of the page's live peer connections sends, by label. */
function sentVideoLabels(p: Participant): Promise<string[]> {
  return p.page.evaluate(() =>
    (window as unknown as { __e2ePcs: Array<{ pc: RTCPeerConnection }> }).__e2ePcs
      .filter(({ pc }) => pc.connectionState === 'connected')
      .flatMap(({ pc }) =>
        pc.getSenders().flatMap((s) => (s.track?.kind === 'video' ? [s.track.label] : [])),
      ),
  );
}

test.describe('the call page', () => {
  test('mute, camera off and screen share are seen by the other person', async ({ join }) => {
    // peerOfB is alice's id as bob sees it.
    const { a, b, peerOfB } = await joinPair(join);
    const aliceAtBob = b.peerTile(peerOfB);
    await expect(aliceAtBob, 'bob learns alice’s mic state over the data channel').toHaveAttribute(
      'data-mic',
      'on',
    );

    await a.testId('toggle-mic').click();
    await expect(a.testId('toggle-mic')).toHaveAttribute('aria-pressed', 'true');
    await expect(aliceAtBob, 'bob sees alice muted').toHaveAttribute('data-mic', 'off');
    await expect(aliceAtBob.getByRole('img', { name: 'Microphone off' })).toBeVisible();
    await a.page.keyboard.press('m');
    await expect(aliceAtBob, 'M unmutes: bob sees it').toHaveAttribute('data-mic', 'on');

    // Camera off: the sender keeps its transceiver (blank frames), bob shows alice's initial.
    const cameraLabels = await sentVideoLabels(a);
    await a.testId('toggle-camera').click();
    await expect(aliceAtBob, 'bob sees alice’s camera off').toHaveAttribute('data-camera', 'off');
    await expect.poll(() => sentVideoLabels(a)).not.toEqual(cameraLabels);
    await a.page.keyboard.press('v');
    await expect(aliceAtBob, 'camera back on').toHaveAttribute('data-camera', 'on');
    await expect
      .poll(() => sentVideoLabels(a), { message: 'the camera track is sent again' })
      .toEqual(cameraLabels);
    await expectMediaFlowing(b, peerOfB);

    // Screen share: the same sender carries the screen (replaceTrack, no renegotiation).
    await a.testId('toggle-screen').click();
    await expect(a.testId('toggle-screen')).toHaveAttribute('aria-pressed', 'true');
    await expect(aliceAtBob).toContainText('sharing screen');
    await expect
      .poll(() => sentVideoLabels(a), { message: 'alice sends a screen track, not the camera' })
      .not.toEqual(cameraLabels);
    await expectMediaFlowing(b, peerOfB);
    await a.testId('toggle-screen').click();
    await expect(aliceAtBob).not.toContainText('sharing screen');
    await expect.poll(() => sentVideoLabels(a)).toEqual(cameraLabels);

    // The people list shows each person's mic state.
    await b.testId('toggle-people').click();
    await expect(b.testId('people-list').locator(`[data-peer-id="${peerOfB}"]`)).toHaveAttribute(
      'data-mic',
      'on',
    );
    await a.testId('toggle-mic').click();
    await expect(b.testId('people-list').locator(`[data-peer-id="${peerOfB}"]`)).toContainText('muted');
    await expect(b.peerTile(peerOfB).getByTestId('peer-quality')).toHaveAttribute(
      'data-level',
      /good|fair|poor/,
    );

    // Chat through the panel, in both directions.
    await a.page.keyboard.press('c');
    await a.testId('chat-input').fill('hello from the chat box');
    await a.testId('chat-input').press('Enter');
    await b.testId('toggle-chat').click();
    await expect(b.testId('chat-log')).toContainText('hello from the chat box');
  });

  test('music shared into the call is heard by the other person', async ({ join }) => {
    const { a, b, peerOfB } = await joinPair(join);
    // A click is the user gesture browsers want before they run audio.
    for (const p of [a, b]) await p.page.locator('.tiles').click({ position: { x: 5, y: 5 } });
    await a.testId('toggle-mic').click();
    const aliceAtBob = b.peerTile(peerOfB);
    await expect(aliceAtBob).toHaveAttribute('data-mic', 'off');
    // Muted (the fake mic's beeps are cut): bob hears nothing from alice.
    await expect(aliceAtBob).toHaveAttribute('data-speaking', 'no');

    await a.testId('toggle-settings').click();
    await a
      .testId('music-file')
      .setInputFiles({ name: 'tone.wav', mimeType: 'audio/wav', buffer: sineWav(440, 2) });
    await expect(a.testId('music-playing')).toContainText('Playing “tone.wav”');
    await b.testId('toggle-people').click();
    await expect(b.testId('people-list')).toContainText('playing “tone.wav”');
    await expect(aliceAtBob, 'bob’s speaking meter hears the music in alice’s audio track').toHaveAttribute(
      'data-speaking',
      'yes',
    );
    await a.page.getByRole('button', { name: 'Stop music' }).click();
    await expect(b.testId('people-list')).not.toContainText('playing');
    await expect(aliceAtBob).toHaveAttribute('data-speaking', 'no');
  });

  test('accessible and screenshotted with two people in the call', async ({ join }) => {
    const { a, peerOfA } = await joinPair(join);
    await expectAccessible(a.page, 'call page');
    await a.testId('toggle-people').click();
    await expectAccessible(a.page, 'call page with the people panel');
    await a.page.keyboard.press('Escape');
    await a.page.keyboard.press('?');
    await expect(a.testId('help-panel')).toContainText('Mute or unmute your microphone');
    await expectAccessible(a.page, 'call page with the help panel');
    await a.page.keyboard.press('Escape');
    await expect(a.testId('help-panel')).toHaveCount(0);
    // Keyboard only: Tab reaches the controls and Space presses one.
    await a.page.locator('body').focus();
    for (let i = 0; i < 12; i += 1) {
      await a.page.keyboard.press('Tab');
      if ((await a.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === 'toggle-mic')
        break;
    }
    await a.page.keyboard.press('Space');
    await expect(a.testId('toggle-mic')).toHaveAttribute('aria-pressed', 'true');
    await a.page.keyboard.press('Space');
    await a.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // Controls and tiles on screen at every size, the chat's input too when it is open.
    for (const viewport of VIEWPORTS) {
      await a.page.setViewportSize({ width: viewport.width, height: viewport.height });
      await expectOnScreen(a.page, '.controls button', `${viewport.label}: every control`);
      await expectOnScreen(a.page, '.tile', `${viewport.label}: both tiles`);
      await a.testId('toggle-chat').click();
      await expectOnScreen(a.page, '[data-testid="chat-input"]', `${viewport.label}: the chat input`);
      await a.page.mouse.move(0, 0);
      await a.page.screenshot({ path: `${SCREENSHOTS}/call-chat-${viewport.label}-light.png` });
      await a.testId('toggle-chat').click();
    }
    await a.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await screenshots(a.page, 'call', async () => {
      await expect(a.peerTile(peerOfA).locator('video')).toBeVisible();
    });
  });
});

/** A mono 16-bit PCM WAV of a sine tone at half scale. */
function sineWav(hz: number, seconds: number): Buffer {
  const rate = 16_000;
  const samples = rate * seconds;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i += 1) {
    wav.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 16_000), 44 + i * 2);
  }
  return wav;
}
