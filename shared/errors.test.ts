// Pins the error catalogue: codes are wire contract, so removing or renaming one must
// be a deliberate change of this list (and of docs/PROTOCOL.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloseCode, ERROR_CODES, ErrorCatalogue, isErrorCode, UsherError } from './errors.ts';

const PINNED = [
  'BAD_JSON',
  'BAD_MESSAGE',
  'UNKNOWN_TYPE',
  'UNSUPPORTED_VERSION',
  'FRAME_TOO_LARGE',
  'NO_SERVER_AVAILABLE',
  'RATE_LIMITED',
  'TOO_MANY_IN_FLIGHT',
  'TOO_MANY_CONNECTIONS',
  'BAD_RESUME',
  'TICKET_INVALID',
  'TICKET_EXPIRED',
  'TICKET_REPLAYED',
  'TICKET_WRONG_SERVER',
  'TICKET_WRONG_ROOM',
  'NOT_JOINED',
  'ALREADY_JOINED',
  'PEER_NOT_FOUND',
  'ROOM_FULL',
  'SERVER_FULL',
  'SERVER_DRAINING',
  'JOIN_TIMEOUT',
  'IDLE_TIMEOUT',
  'SESSION_REPLACED',
  'UNAUTHORIZED',
  'FORBIDDEN_ORIGIN',
  'ID_IN_USE',
  'BAD_SERVER_URL',
  'NOT_REGISTERED',
  'NOT_FOUND',
  'INTERNAL',
];

test('the catalogue holds exactly the pinned codes', () => {
  assert.deepEqual([...ERROR_CODES].sort(), [...PINNED].sort());
});

test('codes are UPPER_SNAKE, statuses are 4xx/5xx, close codes are standard or 4000-4999', () => {
  const closeCodes = new Set<number>(Object.values(CloseCode));
  for (const [code, spec] of Object.entries(ErrorCatalogue)) {
    assert.match(code, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    if (spec.close !== null) {
      assert.ok(closeCodes.has(spec.close), `${code}: close ${spec.close} not in CloseCode`);
      assert.ok(
        spec.close === 1001 ||
          spec.close === 1009 ||
          spec.close === 1011 ||
          (spec.close >= 4000 && spec.close < 5000),
      );
    }
    assert.ok(spec.message.length > 0 && spec.message.length < 200);
  }
});

test('UsherError carries the catalogue entry and keeps its cause', () => {
  const cause = new Error('inner');
  const error = new UsherError('TICKET_EXPIRED', undefined, { cause });
  assert.equal(error.code, 'TICKET_EXPIRED');
  assert.equal(error.status, 401);
  assert.equal(error.close, CloseCode.UNAUTHORIZED);
  assert.equal(error.message, ErrorCatalogue.TICKET_EXPIRED.message);
  assert.equal(error.cause, cause);
  assert.equal(isErrorCode('TICKET_EXPIRED'), true);
  assert.equal(isErrorCode('toString'), false);
});
