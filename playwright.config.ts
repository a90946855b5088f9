// Playwright setup for Usher's browser end-to-end tests: Debian's Chromium (Playwright
// cannot download browsers here) with fake camera/mic and loopback ICE, one test at a time.
import { defineConfig } from '@playwright/test';

// Flags verified on machines of this kind: without --allow-loopback-in-peer-connection Chrome gathers
// zero ICE candidates on a loopback-only machine, silently; disabling the mDNS feature gives
// raw IPs, so candidates are deterministic.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export default defineConfig({
  testDir: 'e2e',
  // Fake video encode/decode is most of the CPU: on 2 cores, one browser test at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: 'list',
  outputDir: 'test-results',
  use: {
    headless: true,
    // Granted even though the fake-UI flag auto-accepts: without a media permission Chrome
    // hides host candidates behind mDNS and gathers on the default route only.
    permissions: ['camera', 'microphone'],
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
  },
});
