// One poll-until-true helper for every test suite (node tests of the servers, the SDK and the
// bench): tests wait for a condition with a deadline, never for a fixed time.

/** Polls `condition` every few ms until it holds; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
