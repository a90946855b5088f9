import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from './logger.ts';
import { ThrottledLog } from './throttled-log.ts';

function fakeLogger(lines: Array<Record<string, unknown>>): Logger {
  return { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
}

test('the first lines go out as they come, then one per interval saying how many were held back', () => {
  const lines: Array<Record<string, unknown>> = [];
  let now = 0;
  const log = new ThrottledLog(fakeLogger(lines), 3, 1000, () => now);
  for (let index = 0; index < 100; index++) log.warn({ code: 'UNAUTHORIZED' }, 'refused');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0], { code: 'UNAUTHORIZED' });
  now = 999;
  log.warn({ code: 'UNAUTHORIZED' }, 'refused');
  assert.equal(lines.length, 3);
  now = 1001;
  log.warn({ code: 'UNAUTHORIZED' }, 'refused');
  assert.deepEqual(lines[3], { code: 'UNAUTHORIZED', suppressed: 98 });
  // A quiet spell refills the allowance up to the burst, no further.
  now = 60_000;
  for (let index = 0; index < 10; index++) log.warn({}, 'refused');
  assert.equal(lines.length, 7);
});
