// Redirect mode with real `usher broker` / `usher media` processes: what a client following the
// broker's 307 sees when the assigned server froze (SIGSTOP) or died since the broker's last
// heartbeat from it — a fetch that never answers (its own deadline ends it) or a refused
// connection at once — and that asking the broker again with that server excluded gets a seat
// elsewhere, which joins.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type BrokerProcess,
  joinWith,
  type MediaProcess,
  startBroker,
  startMedia,
  waitRegistered,
} from './testing/fleet-processes.ts';

/** What a client following the redirect gives the target before it declares it gone. */
const FOLLOW_DEADLINE_MS = 1500;

interface Assigned {
  type: string;
  code?: string;
  server: { id: string; url: string };
  seat?: string;
}

async function redirectTo(broker: BrokerProcess, room: string, exclude: string[] = []): Promise<string> {
  const response = await fetch(`${broker.url}/v1/sessions?redirect=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body(room, exclude)),
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  assert.equal(response.status, 307, text);
  return response.headers.get('location') ?? '';
}

function body(room: string, exclude: string[]): Record<string, unknown> {
  return { type: 'session.request', v: 1, id: 'r', room, ...(exclude.length === 0 ? {} : { exclude }) };
}

/** Follows a redirect as a client with a deadline would: the answer, or how it failed. */
async function follow(
  location: string,
  room: string,
): Promise<{ assigned?: Assigned; failure?: string; tookMs: number }> {
  const started = performance.now();
  try {
    const response = await fetch(location, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body(room, [])),
      signal: AbortSignal.timeout(FOLLOW_DEADLINE_MS),
    });
    return { assigned: (await response.json()) as Assigned, tookMs: performance.now() - started };
  } catch (error) {
    const name = (error as Error).name;
    const cause = ((error as { cause?: { code?: string } }).cause?.code ?? '') as string;
    return { failure: cause === '' ? name : `${name}:${cause}`, tookMs: performance.now() - started };
  }
}

async function fleet(t: TestContext): Promise<{ broker: BrokerProcess; media: Map<string, MediaProcess> }> {
  const broker = await startBroker(t);
  const media = new Map<string, MediaProcess>();
  for (const id of ['m1', 'm2']) media.set(id, await startMedia(t, id, [broker]));
  await waitRegistered([broker], 2);
  return { broker, media };
}

/** A redirect to `id` for a new room (the assigner picks; a few rooms find it). */
async function redirectToServer(
  broker: BrokerProcess,
  id: string,
): Promise<{ location: string; room: string }> {
  for (let i = 0; i < 40; i++) {
    const room = `to-${id}-${i}`;
    const location = await redirectTo(broker, room);
    // The grant's audience is the server it admits to.
    const grant = new URL(location).searchParams.get('grant') ?? '';
    const aud = (
      JSON.parse(Buffer.from(grant.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud: string }
    ).aud;
    if (aud === id) return { location, room };
  }
  throw new Error(`no redirect to ${id} in 40 rooms`);
}

test('redirect to a frozen server: the client’s fetch gets no answer until its own deadline; excluded, it gets a seat elsewhere', async (t) => {
  const { broker, media } = await fleet(t);
  const { location, room } = await redirectToServer(broker, 'm1');
  const frozen = media.get('m1')?.process;
  assert.ok(frozen !== undefined);
  frozen.freeze();
  try {
    // The kernel still accepts the connection (the listen backlog); nothing reads or answers it.
    const followed = await follow(location, room);
    assert.equal(followed.failure, 'TimeoutError');
    assert.ok(followed.tookMs >= FOLLOW_DEADLINE_MS - 50, `gave up after ${Math.round(followed.tookMs)} ms`);
    // The broker has not noticed yet (no heartbeat timeout passed): the exclude steers the client.
    const again = await follow(await redirectTo(broker, room, ['m1']), room);
    assert.equal(again.assigned?.type, 'session.assigned', JSON.stringify(again));
    assert.equal(again.assigned?.server.id, 'm2');
    assert.equal(await joinWith(again.assigned.server.url, again.assigned.seat ?? ''), 'joined');
  } finally {
    frozen.thaw();
  }
});

test('redirect to a dead server: the client’s fetch fails at once (connection refused); excluded, it gets a seat elsewhere', async (t) => {
  const { broker, media } = await fleet(t);
  const { location, room } = await redirectToServer(broker, 'm2');
  await media.get('m2')?.process.kill();
  const followed = await follow(location, room);
  assert.equal(followed.failure, 'TypeError:ECONNREFUSED');
  assert.ok(followed.tookMs < FOLLOW_DEADLINE_MS, `failed after ${Math.round(followed.tookMs)} ms`);
  const again = await follow(await redirectTo(broker, room, ['m2']), room);
  assert.equal(again.assigned?.type, 'session.assigned', JSON.stringify(again));
  assert.equal(again.assigned?.server.id, 'm1');
  assert.equal(await joinWith(again.assigned.server.url, again.assigned.seat ?? ''), 'joined');
});
