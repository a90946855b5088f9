// Pins the error catalogue: codes are wire contract, so removing or renaming one must
// be a deliberate change of this list (and of docs/PROTOCOL.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CloseCode,
  ERROR_CODES,
  ErrorCatalogue,
  isErrorCode,
  RetryClass,
  retryClassOf,
  UsherError,
} from './errors.ts';

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
  'TOKEN_MISSING',
  'TOKEN_MALFORMED',
  'TOKEN_EXPIRED',
  'TOKEN_INVALID',
  'TOKEN_WRONG_ROOM',
  'TOKEN_FORBIDDEN',
  'WEBHOOK_INVALID',
  'WEBHOOK_BODY_MISMATCH',
  'WEBHOOK_STALE',
  'WEBHOOK_REPLAYED',
  'PARTICIPANT_REMOVED',
  'SERVER_TOKEN_INVALID',
  'ROOM_NOT_FOUND',
  'PARTICIPANT_NOT_FOUND',
];

test('the catalogue holds exactly the pinned codes', () => {
  assert.deepEqual([...ERROR_CODES].sort(), [...PINNED].sort());
});

// What a client does on each code is contract too: moving a code between classes changes every
// client's behaviour (a permanent error retried forever, or a transient one ending a call).
const PINNED_RETRY: Record<string, RetryClass> = {
  BAD_JSON: 'never',
  BAD_MESSAGE: 'never',
  UNKNOWN_TYPE: 'never',
  UNSUPPORTED_VERSION: 'never',
  FRAME_TOO_LARGE: 'never',
  NO_SERVER_AVAILABLE: 'backoff',
  RATE_LIMITED: 'backoff',
  TOO_MANY_IN_FLIGHT: 'backoff',
  TOO_MANY_CONNECTIONS: 'backoff',
  BAD_RESUME: 'backoff',
  TICKET_INVALID: 'other-server',
  TICKET_EXPIRED: 'backoff',
  TICKET_REPLAYED: 'backoff',
  TICKET_WRONG_SERVER: 'backoff',
  TOKEN_MISSING: 'never',
  TOKEN_MALFORMED: 'never',
  TOKEN_EXPIRED: 'never',
  TOKEN_INVALID: 'never',
  TOKEN_WRONG_ROOM: 'never',
  TOKEN_FORBIDDEN: 'never',
  WEBHOOK_INVALID: 'never',
  WEBHOOK_BODY_MISMATCH: 'never',
  WEBHOOK_STALE: 'never',
  WEBHOOK_REPLAYED: 'never',
  PARTICIPANT_REMOVED: 'never',
  SERVER_TOKEN_INVALID: 'never',
  ROOM_NOT_FOUND: 'never',
  PARTICIPANT_NOT_FOUND: 'never',
  TICKET_WRONG_ROOM: 'backoff',
  NOT_JOINED: 'never',
  ALREADY_JOINED: 'never',
  PEER_NOT_FOUND: 'never',
  ROOM_FULL: 'never',
  SERVER_FULL: 'other-server',
  SERVER_DRAINING: 'other-server',
  JOIN_TIMEOUT: 'backoff',
  IDLE_TIMEOUT: 'backoff',
  SESSION_REPLACED: 'never',
  UNAUTHORIZED: 'never',
  FORBIDDEN_ORIGIN: 'never',
  ID_IN_USE: 'backoff',
  BAD_SERVER_URL: 'never',
  NOT_REGISTERED: 'never',
  NOT_FOUND: 'never',
  INTERNAL: 'backoff',
};

test('every code has its pinned retry class', () => {
  const actual = Object.fromEntries(ERROR_CODES.map((code) => [code, retryClassOf(code)]));
  assert.deepEqual(actual, PINNED_RETRY);
  const classes = new Set<string>(Object.values(RetryClass));
  for (const code of ERROR_CODES) assert.ok(classes.has(ErrorCatalogue[code].retry), code);
  assert.equal(new UsherError('SERVER_DRAINING').retry, 'other-server');
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
