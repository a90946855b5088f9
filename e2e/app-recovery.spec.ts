// Browser end-to-end for failure as a person sees it: a fleet that comes up after the page
// asked (waiting, retrying, then in the call), Cancel while waiting, and a failover whose
// banners speak plain words and go by themselves while the chat history stays.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expectDataChannel, joinPair } from './fixtures/call-checks.ts';
import { expect, joinRoom, openParticipant, test } from './fixtures/participants.ts';
import {
  type SpawnOptions,
  signal,
  spawnUsher,
  stopProcess,
  type UsherProcess,
} from './fixtures/processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** web/app/call-store.ts BANNER_DISMISS_MS, plus slack for a loaded machine. */
const BANNER_GONE_WITHIN_MS = 8000 + 5000;

/** A broker and (later, on demand) media servers of our own, for fleets the stack fixture
 *  does not make: none at first, or one with a small room capacity. */
class OwnFleet {
  readonly processes: UsherProcess[] = [];
  readonly #options: SpawnOptions = {
    cwd: REPO_ROOT,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('USHER_'))),
      USHER_SECRET: randomBytes(32).toString('base64url'),
      // Token mode, as `usher stack` runs it: the app gets its join token from the dev endpoint.
      USHER_API_KEYS: `e2e:${randomBytes(32).toString('base64url')}`,
      USHER_LOG_LEVEL: 'info',
    },
  };
  readonly #onExit = (): void => {
    for (const proc of this.processes) {
      signal(proc, 'SIGCONT');
      signal(proc, 'SIGKILL');
    }
  };
  brokerUrl = '';

  async startBroker(webDist: string): Promise<void> {
    process.once('exit', this.#onExit);
    const broker = spawnUsher(
      'broker',
      ['broker', '--host', '127.0.0.1', '--port', '0', '--static-dir', webDist, '--dev-token-endpoint'],
      this.#options,
    );
    this.processes.push(broker);
    const listening = await broker.waitForLog((r) => r.msg === 'broker listening', START_TIMEOUT_MS);
    this.brokerUrl = String(listening.url).replace(/\/$/, '');
  }

  async startMedia(id: string, extraArgs: string[] = []): Promise<void> {
    const media = spawnUsher(
      id,
      ['media', '--host', '127.0.0.1', '--port', '0', '--id', id, '--broker', this.brokerUrl, ...extraArgs],
      this.#options,
    );
    this.processes.push(media);
    await media.waitForLog((r) => r.msg === 'registered with broker', START_TIMEOUT_MS);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((proc) => stopProcess(proc)));
    process.removeListener('exit', this.#onExit);
  }
}

test.describe('failure as a person sees it', () => {
  test('no media server yet: the page waits and retries, then joins when one comes up', async ({
    browser,
    webDist,
  }) => {
    const fleet = new OwnFleet();
    const [waiter, canceller] = await Promise.all([
      openParticipant(browser, 'early'),
      openParticipant(browser, 'impatient'),
    ]);
    try {
      await fleet.startBroker(webDist);
      const brokerUrl = fleet.brokerUrl;

      await joinRoom(waiter, brokerUrl, 'late-fleet');
      await expect(waiter.testId('joining-status')).toContainText(
        /Waiting for a server… retrying (in \d+ s|now)/,
      );
      await expect(waiter.page.getByText('No call server is free right now.')).toBeVisible();

      // Cancel while waiting: back to the pre-join page, nothing left trying.
      await joinRoom(canceller, brokerUrl, 'late-fleet');
      await expect(canceller.testId('joining-status')).toContainText('Waiting for a server');
      await canceller.testId('cancel-join').click();
      await expect(canceller.testId('join-button')).toBeVisible();
      await expect(canceller.testId('join-room')).toHaveValue('late-fleet');

      await fleet.startMedia('media-1');
      await expect(waiter.testId('status-state'), 'joined once a server came up').toHaveText('joined', {
        timeout: 30_000,
      });
      await expect(waiter.testId('status-server-id')).toHaveText('media-1');
      expect(await canceller.peerIds(), 'the cancelled page never joined').toEqual([]);
      await expect(canceller.testId('join-button')).toBeVisible();
    } finally {
      await Promise.all([waiter.context.close(), canceller.context.close()]);
      await fleet.stop();
    }
  });

  test('a full room says so and what to do; Retry gets in once there is a seat', async ({
    browser,
    webDist,
  }) => {
    const fleet = new OwnFleet();
    const [alice, bob] = await Promise.all([
      openParticipant(browser, 'alice'),
      openParticipant(browser, 'bob'),
    ]);
    try {
      await fleet.startBroker(webDist);
      await fleet.startMedia('media-1', ['--max-peers-per-room', '1']);
      await joinRoom(alice, fleet.brokerUrl, 'small');
      await expect(alice.testId('status-state')).toHaveText('joined');
      await joinRoom(bob, fleet.brokerUrl, 'small');
      await expect(bob.testId('join-error')).toHaveText(
        'This room is full. Ask someone to leave, or pick another room.',
      );
      await alice.testId('leave-button').click();
      await expect(alice.testId('join-button'), 'leave: back to the pre-join page').toBeVisible();
      await bob.testId('retry-button').click();
      await expect(bob.testId('status-state'), 'Retry once there is a seat').toHaveText('joined');
    } finally {
      await Promise.all([alice.context.close(), bob.context.close()]);
      await fleet.stop();
    }
  });

  test('failover: plain-words banners that go by themselves, and the chat stays', async ({ join, stack }) => {
    const pair = await joinPair(join);
    const { a, b } = pair;
    await a.testId('toggle-chat').click();
    await a.testId('chat-input').fill('before the move');
    await a.testId('chat-input').press('Enter');
    await expect(a.testId('chat-log')).toContainText('before the move');

    const killAt = stack.kill(pair.serverId, 'SIGKILL');
    for (const p of [a, b]) {
      await expect(p.testId('failover-banner')).toContainText('Moved to a new server: back in', {
        timeout: 20_000,
      });
    }
    const shownAt = Date.now();
    for (const p of [a, b]) {
      const said = (await p.uiChanges())
        .filter((c) => c.testId === 'failover-banner' && c.at >= killAt && c.text !== null)
        .map((c) => c.text!);
      expect(
        said.some((t) => t.startsWith('Reconnecting…')),
        `${p.name}: said it was reconnecting`,
      ).toBe(true);
      for (const text of said) {
        expect(text, 'no internal server ids or jargon').not.toMatch(/media-\d|ping|ws:\/\//i);
      }
    }
    for (const p of [a, b]) {
      await expect(p.testId('failover-banner'), `${p.name}: the banner goes by itself`).toHaveCount(0, {
        timeout: BANNER_GONE_WITHIN_MS,
      });
    }
    expect(Date.now() - shownAt, 'not before the person could read it').toBeGreaterThan(3000);

    await expect(a.testId('chat-log'), 'the chat history survived the move').toContainText('before the move');
    await expectDataChannel(b, a, 'after the move');
    await expect(a.testId('chat-log')).toContainText('after the move');
  });
});
