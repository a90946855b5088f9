// Friendly room names → canonical ids, both ways: every typed name gives an id the protocol
// accepts (or a refusal), and every canonical id maps to itself.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Value } from 'typebox/value';
import { RoomName } from '../../shared/protocol/common.ts';
import { canonicalRoomId, MAX_ROOM_NAME_CHARS } from './room-name.ts';

const idOf = (input: string): string => {
  const result = canonicalRoomId(input);
  assert.ok(result.ok, `expected "${input}" to be accepted`);
  return result.id;
};

describe('canonicalRoomId', () => {
  test('plain ASCII names: lowercased, spaces as dashes, whitespace tidied', () => {
    assert.equal(idOf('Team standup'), 'team-standup');
    assert.equal(idOf('  team   standup '), 'team-standup');
    assert.equal(idOf('lobby'), 'lobby');
    assert.equal(idOf('e2e-0a1b2c'), 'e2e-0a1b2c');
    assert.equal(idOf('Release_1.2'), 'release_1.2');
  });

  test('accents and other scripts: a readable slug plus a hash of the whole name', () => {
    assert.match(idOf('café-会议'), /^cafe-[0-9a-z]{11}$/);
    assert.match(idOf('会议'), /^room-[0-9a-z]{11}$/);
    assert.match(idOf('Ünïcødé ☕ room'), /^unic-de-room-[0-9a-z]{11}$/, 'ø has no ASCII base letter');
    assert.equal(idOf('Café'), idOf('café'), 'case does not matter');
    assert.equal(idOf('Café'), idOf('Cafe\u0301'), 'composed and decomposed accents are one name');
    assert.notEqual(idOf('café'), idOf('cafe'), 'an accent makes a different room');
    assert.notEqual(idOf('会议'), idOf('会談'));
  });

  test('deterministic: the same name gives the same id every time', () => {
    assert.equal(idOf('café-会议'), idOf('café-会议'));
  });

  test('refused with a sentence, never cut: empty and over-long names', () => {
    const empty = canonicalRoomId('   ');
    assert.equal(empty.ok, false);
    const long = canonicalRoomId('x'.repeat(500));
    assert.ok(!long.ok);
    assert.match(long.reason, /at most 64 characters; this one has 500/);
    assert.ok(canonicalRoomId('é'.repeat(MAX_ROOM_NAME_CHARS)).ok);
    assert.ok(!canonicalRoomId('é'.repeat(MAX_ROOM_NAME_CHARS + 1)).ok);
  });

  test('every accepted name maps to an id the protocol accepts (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (input) => {
        const result = canonicalRoomId(input);
        if (result.ok) assert.ok(Value.Check(RoomName, result.id), `${JSON.stringify(input)} → ${result.id}`);
        else assert.ok(result.reason.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  test('the other way: a canonical id is its own canonical id (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (input) => {
        const result = canonicalRoomId(input);
        if (result.ok) assert.equal(idOf(result.id), result.id);
      }),
      { numRuns: 2000 },
    );
  });

  test('names that differ in more than case and spacing get different ids (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
        (a, b) => {
          const ra = canonicalRoomId(a);
          const rb = canonicalRoomId(b);
          if (!ra.ok || !rb.ok) return;
          const same =
            ra.name.toLowerCase().replaceAll(' ', '-') === rb.name.toLowerCase().replaceAll(' ', '-');
          if (!same) assert.notEqual(ra.id, rb.id, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
