#!/usr/bin/env node
// A media server's Kubernetes preStop hook: asks a broker to drain this server (it stops
// getting new rooms at once, on every broker), then waits — bounded — until its clients have
// migrated, so a rolling update moves rooms instead of dropping them. The SIGTERM that
// follows drains whatever is left (`usher media` drains on SIGTERM) and exits.
// Env: USHER_MEDIA_ID, USHER_MEDIA_PORT, USHER_ADMIN_TOKEN, USHER_DRAIN_BROKER_URL,
// USHER_PRESTOP_WAIT_S (default 20; keep it below terminationGracePeriodSeconds).
const id = process.env.USHER_MEDIA_ID ?? '';
const port = process.env.USHER_MEDIA_PORT ?? '8101';
const broker = process.env.USHER_DRAIN_BROKER_URL ?? 'http://broker:8080';
const token = process.env.USHER_ADMIN_TOKEN ?? '';
const deadline = Date.now() + Number(process.env.USHER_PRESTOP_WAIT_S ?? '20') * 1000;

async function drainThroughBroker() {
  const response = await fetch(`${broker}/admin/v1/servers/${encodeURIComponent(id)}/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(3000),
  });
  console.log(`prestop-drain: broker answered ${response.status} to draining ${id}`);
}

async function peersLeft() {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  const body = await response.json();
  return typeof body.peers === 'number' ? body.peers : 0;
}

try {
  await drainThroughBroker();
} catch (error) {
  // No broker reachable: SIGTERM still drains the server itself.
  console.log(`prestop-drain: could not reach a broker (${error.message}); SIGTERM drains`);
}
while (Date.now() < deadline) {
  try {
    if ((await peersLeft()) === 0) break;
  } catch {
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
